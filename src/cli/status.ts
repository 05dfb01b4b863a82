// `tend status [<name>]`: one line per instance (name, runtime, version, phase, port, health, uptime, message), or one in detail.
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Observed } from '../model/types.js';
import { readObservedSnapshot } from '../observe/index.js';
import { status, statusDetail } from '../status/index.js';
import { detailJson, renderStatusDetail, renderStatusTable, statusJson } from '../views/status-text.js';
import { requireRoot } from './release-usage.js';
import { errorMessage } from '../shared/errors.js';

interface StatusOptions {
  json?: boolean;
  observed?: string;
}

function warn(lines: readonly string[]): void {
  for (const l of lines) process.stderr.write(`warning: ${l}\n`);
}

async function statusCommand(name: string | undefined, opts: StatusOptions, cmd: Command): Promise<void> {
  const root = requireRoot(cmd);
  if (!root) return;
  let observed: Observed | undefined;
  if (opts.observed !== undefined) {
    try {
      observed = readObservedSnapshot(resolve(process.cwd(), opts.observed));
    } catch (err) {
      process.stderr.write(`error: ${errorMessage(err)}\n`);
      process.exitCode = 1;
      return;
    }
  }
  const now = new Date();
  const base = { now, ...(observed ? { observed } : {}) };
  if (name === undefined) {
    const rows = await status(root.desired, root.paths, base);
    warn(rows.flatMap((r) => r.warnings.map((w) => `${r.name}: ${w}`)));
    if (opts.json) process.stdout.write(`${JSON.stringify({ formatVersion: 1, instances: rows.map(statusJson) }, null, 2)}\n`);
    else if (rows.length === 0) process.stdout.write(`no instances: ${relative(process.cwd(), root.paths.desired) || '.'} has no desired files and nothing of this app runs\n`);
    else process.stdout.write(renderStatusTable(rows, now));
    return;
  }
  const detail = await statusDetail(root.desired, root.paths, name, base);
  if (!detail) {
    process.stderr.write(`error: no instance named "${name}": no desired file names it, nothing of it runs, and instances/${name}/ has no status\n`);
    process.exitCode = 1;
    return;
  }
  warn([...detail.warnings, ...detail.historyProblems.map((p) => `.version-history ${p}`)]);
  if (opts.json) process.stdout.write(`${JSON.stringify({ formatVersion: 1, instance: detailJson(detail) }, null, 2)}\n`);
  else process.stdout.write(renderStatusDetail(detail, now));
}

export function registerStatus(program: Command): void {
  program
    .command('status [name]')
    .description('show every instance (name, runtime, version, phase, port, health, uptime, message), or one in detail')
    .option('--json', 'print JSON (stable keys, null when unknown)')
    .option('--observed <file>', 'use a saved observed snapshot (schemas/observed.schema.json) instead of asking the runtimes')
    .addHelpText('after', [
      '',
      'Phase comes from instances/<name>/status.json, written by tend reconcile; it shows Unknown when the',
      "instance's runtime cannot be observed, InvalidSpec when its desired file does not validate,",
      'Degraded when status.json says Ready but the process is not running, and Interrupted when it says',
      'Progressing but no tend process holds the instance lock (the run that was changing it is gone; the',
      'next reconcile resumes it). Without status.json, what runs is Ready and anything else Stopped.',
      'Things tend made that no desired file names any more (orphans) are listed too.',
      '',
      'Version and port are those of what runs (PORT 8081 (want 8082) when the desired file names another).',
      "Health is checked now, once, for every running instance (its spec's HTTP or TCP check, 1 s timeout;",
      'for health.exec and with --observed, the last check tend ran on that process, as healthy 5m ago),',
      'and - for what does not run. Uptime is since the process started.',
      '',
      'With a name: also since, the hold (a version that failed its health check and is not retried),',
      'the last history entries, the lock holder when a tend process is acting on it, and project and',
      "session counts from the app's Prometheus /metrics on its port when tend.yaml names the metrics",
      '(metrics.projects, metrics.sessions: each the sum of its samples; no defaults, e.g.',
      'metrics: {projects: oubliette_projects_total, sessions: oubliette_active_sessions}) and it answers within 1 s.',
      '',
      'Exit codes: 0 shown (whatever the phases), 1 error (no usable tend.yaml, unknown name, bad --observed file).',
    ].join('\n'))
    .action(statusCommand);
}
