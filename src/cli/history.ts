// `tend history <name>`: the instance's .version-history, oldest first; skipped (torn) lines are warned about.
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { historyPath, readHistoryFile } from '../state/history.js';
import { historyEntryJson, historyRows } from '../views/status-text.js';
import { requireRoot } from './release-usage.js';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

async function historyCommand(name: string, opts: { json?: boolean }, cmd: Command): Promise<void> {
  const root = requireRoot(cmd);
  if (!root) return;
  const file = SAFE_NAME.test(name) ? historyPath(root.paths.instances, name) : undefined;
  const desired = root.desired.entries.some((e) => e.name === name);
  if (file === undefined || (!desired && !existsSync(file))) {
    process.stderr.write(`error: no instance named "${name}" has a history (no desired file names it and ${file ? relative(process.cwd(), file) : 'its .version-history'} does not exist)\n`);
    process.exitCode = 1;
    return;
  }
  const read = readHistoryFile(file);
  const shown = relative(process.cwd(), file) || file;
  for (const p of read.problems) process.stderr.write(`warning: ${shown}: ${p}\n`);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ formatVersion: 1, name, entries: read.entries.map(historyEntryJson), problems: read.problems }, null, 2)}\n`);
    return;
  }
  if (read.entries.length === 0) process.stdout.write(`${name}: no history yet\n`);
  else process.stdout.write(historyRows(read.entries));
}

export function registerHistory(program: Command): void {
  program
    .command('history <name>')
    .description("show an instance's version history (instances/<name>/.version-history), oldest first")
    .option('--json', 'print JSON: {formatVersion, name, entries: [{version, updatedAt, updatedBy, reason, outcome, detail}], problems}')
    .addHelpText('after', [
      '',
      'Columns: version, updated at, updated by, reason (create | update | rollback | auto-rollback),',
      'outcome (healthy | failed), detail. A torn or unreadable line is skipped with a warning on stderr.',
      '',
      'Exit codes: 0 shown (also an instance with no history yet), 1 error (no usable tend.yaml, or a name',
      'that no desired file names and that has no history).',
    ].join('\n'))
    .action(historyCommand);
}
