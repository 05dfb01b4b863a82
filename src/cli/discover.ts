// `tend discover`: Docker containers that look like instances (and adopted ones); --adopt, --cleanup-stopped.
import { relative } from 'node:path';
import type { Command } from 'commander';
import { adopt, cleanupStopped, discover, type AdoptResult, type Discovery, type FoundContainer } from '../discover/index.js';
import { withConfiguredPorts } from '../discover/scan.js';
import { adoptionFile } from '../discover/records.js';
import { desiredEditRefusal } from '../ops/guard.js';
import type { TendConfig } from '../model/types.js';
import { FORMER_DISCOVERY_LABEL } from '../spec/config.js';
import { requireRoot } from './release-usage.js';

interface DiscoverOptions {
  json?: boolean;
  adopt?: boolean;
  cleanupStopped?: boolean;
  skipDiscovery?: boolean;
  local?: boolean;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n') + '\n';
}

function note(c: FoundContainer): string {
  if (c.gone) return 'adopted; the container is gone (--cleanup-stopped forgets it)';
  if (c.adopted) return 'adopted';
  return c.problem ? `${c.reason}; cannot adopt: ${c.problem}` : c.reason;
}

function asJson(c: FoundContainer) {
  return {
    name: c.name, id: c.id, image: c.image, state: c.state, network: c.network ?? null, instance: c.instance ?? null,
    adopted: c.adopted, gone: c.gone, reason: c.reason, ...(c.problem ? { problem: c.problem } : {}),
  };
}

function render(d: Discovery, rules: TendConfig['docker']['discovery']): string {
  if (d.containers.length === 0) {
    const what = [...(rules.label ? [`label ${rules.label}`] : []), ...rules.imagePatterns.map((p) => `image ${p}`)].join(' or ');
    return d.scanned ? `no containers look like instances (${what})\n` : 'no adopted containers\n';
  }
  const rows = d.containers.map((c) => [c.name, c.image, c.state, c.network ?? '-', c.instance ?? '-', note(c)]);
  return table([['NAME', 'IMAGE', 'STATE', 'NETWORK', 'INSTANCE', 'NOTE'], ...rows]);
}

/** Why discovery is off in tend.yaml, with what turns it on when it names nothing to look for. */
function offReason(rules: TendConfig['docker']['discovery']): string {
  if (rules.label !== '' || rules.imagePatterns.length > 0) return 'docker.discovery.enabled: false';
  return `tend.yaml names no docker.discovery.label or imagePatterns; to find containers labelled as before, add docker: {discovery: {label: ${FORMER_DISCOVERY_LABEL}}}`;
}

async function run(opts: DiscoverOptions, cmd: Command): Promise<void> {
  const root = requireRoot(cmd);
  if (!root) return;
  const config = root.desired.config;
  const enabled = config.docker.discovery.enabled && !opts.skipDiscovery;
  const off = opts.skipDiscovery ? '--skip-discovery' : offReason(config.docker.discovery);
  if (opts.adopt && !enabled) {
    process.stderr.write(`error: --adopt needs discovery, which is off (${off})\n`);
    process.exitCode = 1;
    return;
  }
  const refusal = opts.adopt ? desiredEditRefusal(config, opts.local, 'adopt') : undefined;
  if (refusal) {
    process.stderr.write(`error: ${refusal}\n`);
    process.exitCode = 1;
    return;
  }
  if (!enabled && !opts.json) {
    process.stderr.write(`info: discovery is off (${off}); listing adopted containers only\n`);
  }
  const paths = root.paths;
  let found: Discovery;
  try {
    found = await discover({ config, instancesDir: paths.instances, scan: enabled });
  } catch (err) {
    process.stderr.write(`error: cannot list Docker containers: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  const forgotten = opts.cleanupStopped ? cleanupStopped(found, paths.instances) : [];
  let result: AdoptResult | undefined;
  let after = found;
  try {
    if (opts.adopt) {
      await withConfiguredPorts(found);
      result = adopt(found, config, paths);
    }
    if (result || forgotten.length > 0) after = await discover({ config, instancesDir: paths.instances, scan: enabled });
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  const rel = (p: string) => relative(process.cwd(), p) || '.';
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({
      formatVersion: 1,
      discovery: { enabled, label: config.docker.discovery.label, imagePatterns: config.docker.discovery.imagePatterns },
      containers: after.containers.map(asJson),
      ...(opts.cleanupStopped ? { forgotten: forgotten.map((c) => ({ name: c.name, id: c.id, instance: c.instance })) } : {}),
      ...(result ? result : {}),
    }, null, 2)}\n`);
  } else {
    for (const c of forgotten) process.stdout.write(`forgot ${c.name} (adopted as ${c.instance}, container gone): ${rel(adoptionFile(paths.instances, c.instance!))} removed\n`);
    for (const w of result?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    for (const a of result?.adopted ?? []) process.stdout.write(`adopted ${a.container} as ${a.instance}: ${a.file}\n`);
    if (result && result.adopted.length > 0) process.stdout.write('tend reconcile --dry-run shows how tend replaces them with its own containers\n');
    if (result && result.adopted.length === 0 && result.failures.length === 0) process.stdout.write('nothing to adopt\n');
    if (!opts.adopt && !opts.cleanupStopped) process.stdout.write(render(after, config.docker.discovery));
  }
  for (const f of result?.failures ?? []) process.stderr.write(`error: ${f}\n`);
  process.exitCode = (result?.failures.length ?? 0) > 0 ? 1 : 0;
}

export function registerDiscover(program: Command): void {
  program
    .command('discover')
    .description('list Docker containers that look like instances but are not tend\'s (tend.yaml docker.discovery.label, e.g. cc-bridge.instance, or docker.discovery.imagePatterns; no default: off until one is set), and adopted ones')
    .option('--json', 'print the list (and what --adopt / --cleanup-stopped did) as JSON')
    .option('--adopt', 'write desired/<name>.yaml (runtime docker) for each one found; a taken name gets a -docker suffix, with a warning')
    .option('--cleanup-stopped', 'forget adopted containers that no longer exist (they are listed as stopped until then)')
    .option('--skip-discovery', 'do not look for new containers; list adopted ones only (like docker.discovery.enabled: false)')
    .option('--local', 'with --adopt: write desired files even though agent.git.pull is on')
    .addHelpText('after', '\nExit codes: 0 ok, 1 error (no Docker Engine, tend.yaml invalid, a container could not be adopted, refused).')
    .action(run);
}
