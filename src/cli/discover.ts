// `tend discover`: Docker containers that look like instances (and adopted ones); --adopt, and
// --cleanup-stopped (adopted instances whose container is gone are removed, after a confirmation).
import type { Command } from 'commander';
import { adopt, discover, type AdoptResult, type Discovery, type FoundContainer } from '../discover/index.js';
import { cleanupStopped, previewCleanup, type CleanupResult, type StoppedInstance } from '../ops/cleanup-stopped.js';
import { withConfiguredPorts } from '../discover/scan.js';
import type { TendConfig } from '../model/types.js';
import { desiredEditRefusal } from '../ops/guard.js';
import { FORMER_DISCOVERY_LABEL } from '../spec/config.js';
import { stderrLog } from './edit-output.js';
import { confirm, interactive } from './prompt.js';
import { requireRoot } from './release-usage.js';
import { errorMessage } from '../shared/errors.js';

interface DiscoverOptions {
  json?: boolean;
  adopt?: boolean;
  cleanupStopped?: boolean;
  skipDiscovery?: boolean;
  local?: boolean;
  yes?: boolean;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n') + '\n';
}

function note(c: FoundContainer): string {
  if (c.gone) return 'adopted; the container is gone (--cleanup-stopped removes the instance)';
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
    process.stderr.write(`error: cannot list Docker containers: ${errorMessage(err)}\n`);
    process.exitCode = 1;
    return;
  }
  let cleanup: CleanupResult | undefined;
  let result: AdoptResult | undefined;
  let after = found;
  try {
    if (opts.cleanupStopped) {
      const project = { desired: root.desired, paths };
      const stopped = await previewCleanup(project, found);
      if (stopped.length > 0 && !(await cleanupAllowed(stopped, opts, config))) {
        process.exitCode = 1;
        return;
      }
      cleanup = stopped.length > 0 ? await cleanupStopped(project, found, { local: opts.local ?? false, log: stderrLog }) : { removed: [], kept: [], failures: [] };
    }
    if (opts.adopt) {
      await withConfiguredPorts(found);
      result = adopt(found, config, paths);
    }
    if (result || (cleanup && cleanup.removed.length + cleanup.kept.length > 0)) after = await discover({ config, instancesDir: paths.instances, scan: enabled });
  } catch (err) {
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    process.exitCode = 1;
    return;
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({
      formatVersion: 1,
      discovery: { enabled, label: config.docker.discovery.label, imagePatterns: config.docker.discovery.imagePatterns },
      containers: after.containers.map(asJson),
      ...(cleanup ? { cleanup } : {}),
      ...(result ? result : {}),
    }, null, 2)}\n`);
  } else {
    for (const r of cleanup?.removed ?? []) {
      const what = [...r.deleted, ...(r.instanceDir ? [r.instanceDir] : []), ...r.files];
      process.stdout.write(`removed stopped instance ${r.instance} (its adopted container ${r.container} is gone): ${what.join(', ')}\n`);
      if (r.inGit) process.stdout.write(`${r.files.join(' ')} ${r.files.length > 1 ? 'were' : 'was'} in a git repository: commit the removal (git rm ${r.files.join(' ')} && git commit)\n`);
    }
    for (const k of cleanup?.kept ?? []) {
      process.stdout.write(`kept instance ${k.instance}: not stopped (${k.running.join(', ')} runs); forgot its adopted container ${k.container}, which is gone\n`);
    }
    if (cleanup && cleanup.removed.length + cleanup.kept.length + cleanup.failures.length === 0) process.stdout.write('no stopped instances to clean up\n');
    for (const w of result?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    for (const a of result?.adopted ?? []) process.stdout.write(`adopted ${a.container} as ${a.instance}: ${a.file}\n`);
    if (result && result.adopted.length > 0) process.stdout.write('tend reconcile --dry-run shows how tend replaces them with its own containers\n');
    if (result && result.adopted.length === 0 && result.failures.length === 0) process.stdout.write('nothing to adopt\n');
    if (!opts.adopt && !opts.cleanupStopped) process.stdout.write(render(after, config.docker.discovery));
  }
  const failures = [...(cleanup?.failures ?? []), ...(result?.failures ?? [])];
  for (const f of failures) process.stderr.write(`error: ${f}\n`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

/** --cleanup-stopped may go ahead: agent.git.pull does not refuse it, and it is confirmed (on a terminal) or --yes. */
async function cleanupAllowed(stopped: StoppedInstance[], opts: DiscoverOptions, config: TendConfig): Promise<boolean> {
  const removing = stopped.filter((s) => s.running.length === 0);
  const refusal = removing.length > 0 ? desiredEditRefusal(config, opts.local, 'remove stopped instances') : undefined;
  if (refusal) {
    process.stderr.write(`error: ${refusal}\n`);
    return false;
  }
  if (opts.yes) return true;
  if (!interactive()) {
    process.stderr.write('error: tend discover --cleanup-stopped asks for confirmation; not on a terminal, so pass --yes\n');
    return false;
  }
  for (const s of stopped) {
    process.stderr.write(s.running.length > 0
      ? `${s.instance}: its adopted container ${s.container} is gone, but ${s.running.join(', ')} runs: kept (only the adoption is forgotten)\n`
      : `${s.instance}: its adopted container ${s.container} is gone; removes ${s.removes.join(', ')}\n`);
  }
  if (await confirm(`Remove ${removing.length} stopped instance${removing.length === 1 ? '' : 's'}?`)) return true;
  process.stderr.write('nothing removed\n');
  return false;
}

export function registerDiscover(program: Command): void {
  program
    .command('discover')
    .description('list Docker containers that look like instances but are not tend\'s (tend.yaml docker.discovery.label, e.g. cc-bridge.instance, or docker.discovery.imagePatterns; no default: off until one is set), and adopted ones')
    .option('--json', 'print the list (and what --adopt / --cleanup-stopped did) as JSON')
    .option('--adopt', 'write desired/<name>.yaml (runtime docker) for each one found; a taken name gets a -docker suffix, with a warning')
    .option('--cleanup-stopped', 'remove each adopted instance whose container no longer exists (listed as stopped until then): its desired file, instances/<name>/ and what tend owns of it; asks first (or --yes). One that runs under tend now is kept, its adoption forgotten')
    .option('--skip-discovery', 'do not look for new containers; list adopted ones only (like docker.discovery.enabled: false)')
    .option('--local', 'with --adopt or --cleanup-stopped: write or remove desired files even though agent.git.pull is on')
    .option('--yes', 'with --cleanup-stopped: do not ask for confirmation (needed off a terminal)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 error (no Docker Engine, tend.yaml invalid, a container could not be adopted, an instance could not be removed, refused or declined).')
    .action(run);
}
