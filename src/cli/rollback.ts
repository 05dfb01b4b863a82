// `tend rollback <name> [--to V]` and `tend retry <name>`: edits of the desired file / the hold,
// followed by a reconcile of that instance only.
import { join } from 'node:path';
import type { Command } from 'commander';
import { reconcile } from '../executor/reconcile.js';
import type { DesiredState, HistoryReason } from '../model/types.js';
import { inGitRepo, setDesiredKey } from '../ops/desired-edit.js';
import { desiredEditRefusal } from '../ops/guard.js';
import { assertTagExists } from '../ops/update.js';
import type { RootPaths } from '../spec/config.js';
import { historyPath, readHistory } from '../state/history.js';
import { withInstanceLock } from '../state/lock.js';
import { readStatus, statusPath, updateStatus } from '../state/status.js';
import { renderDiagnostics } from '../shared/diagnostic-text.js';
import { loadRoot, type GlobalOptions } from './load.js';
import { errorMessage } from '../shared/errors.js';

interface Loaded {
  desired: DesiredState;
  paths: RootPaths;
}

function load(cmd: Command): Loaded | undefined {
  const root = loadRoot(cmd.optsWithGlobals<GlobalOptions>(), 'plan');
  if (!root.desired) {
    process.stderr.write(renderDiagnostics(root.diagnostics));
    return undefined;
  }
  return { desired: root.desired, paths: root.paths };
}

/** Loads the root again (the desired file just changed) and reconciles only `name`. */
async function reconcileOne(cmd: Command, name: string, reason?: HistoryReason): Promise<number> {
  const again = load(cmd);
  if (!again) return 1;
  const result = await reconcile(again.desired, again.paths, {
    only: new Set([name]),
    ...(reason ? { historyReason: { [name]: reason } } : {}),
    log: (level, message) => process.stderr.write(`${level}: ${message}\n`),
  });
  const o = result.outcomes.find((x) => x.name === name);
  const st = readStatus(statusPath(again.paths.instances, name)).status;
  process.stdout.write(`${name}: ${st?.phase ?? o?.result ?? 'unchanged'}${st?.observedVersion ? ` (${st.observedVersion})` : ''}${st?.message ? `: ${st.message}` : ''}\n`);
  return result.exitCode;
}

export function registerRollback(program: Command): void {
  program
    .command('rollback <name>')
    .description('write an earlier version into desired/<name>.yaml (default: the last healthy one before the current) and reconcile that instance')
    .option('--to <version>', 'the version to go back to (a git tag; it must exist)')
    .option('--no-apply', 'only edit the desired file')
    .option('--local', 'edit the desired file even though agent.git.pull is on')
    .addHelpText('after', '\nExit codes: 0 done, 1 errors (unknown instance or tag, no earlier healthy version, a failed apply), 3 the version failed its health check and was held.')
    .action(async (name: string, opts: { to?: string; apply: boolean; local?: boolean }, cmd: Command) => {
      const loaded = load(cmd);
      if (!loaded) return void (process.exitCode = 1);
      const entry = loaded.desired.entries.find((e) => e.name === name);
      if (!entry) {
        process.stderr.write(`error: no instance ${name} in ${loaded.desired.desiredDir}/\n`);
        return void (process.exitCode = 1);
      }
      const refusal = desiredEditRefusal(loaded.desired.config, opts.local, `roll ${name} back`);
      if (refusal) {
        process.stderr.write(`error: ${refusal}\n`);
        return void (process.exitCode = 1);
      }
      if (opts.to !== undefined) {
        // As tend update: an unknown tag (`Git tag v9.9.9 not found`) is refused before the file is edited.
        try {
          await assertTagExists(loaded, opts.to);
        } catch (err) {
          process.stderr.write(`error: ${errorMessage(err)}\n`);
          return void (process.exitCode = 1);
        }
      }
      const current = entry.status === 'valid' ? entry.spec.version : undefined;
      let target = opts.to;
      if (!target) {
        const history = readHistory(historyPath(loaded.paths.instances, name));
        // What the file names is what is being rolled back from; the version running may be the target
        // (after an automatic rollback the file still names the failed version).
        const healthy = history.filter((h) => h.outcome === 'healthy' && h.version !== current);
        target = healthy.at(-1)?.version;
        if (!target) {
          process.stderr.write(`error: ${name} has no healthy version in its history other than ${current ?? 'the current one'}; use --to <version>\n`);
          return void (process.exitCode = 1);
        }
      }
      const file = join(loaded.paths.root, entry.file);
      setDesiredKey(file, 'version', target);
      process.stdout.write(`${entry.file}: version ${current ?? '?'} -> ${target}\n`);
      if (inGitRepo(loaded.paths.desired)) process.stdout.write(`${entry.file} is in a git repository: commit the change so it stays the source of truth\n`);
      if (!opts.apply) return;
      process.exitCode = await reconcileOne(cmd, name, 'rollback');
    });

  program
    .command('retry <name>')
    .description('lift the hold on a version that failed its health check (or clear a crash loop) and reconcile that instance (it is tried again)')
    .option('--no-apply', 'only lift the hold')
    .addHelpText('after', '\nExit codes: 0 done, 1 errors, 3 it failed its health check again and is held.')
    .action(async (name: string, opts: { apply: boolean }, cmd: Command) => {
      const loaded = load(cmd);
      if (!loaded) return void (process.exitCode = 1);
      if (!loaded.desired.entries.some((e) => e.name === name)) {
        process.stderr.write(`error: no instance ${name} in ${loaded.desired.desiredDir}/\n`);
        return void (process.exitCode = 1);
      }
      const file = statusPath(loaded.paths.instances, name);
      const st = readStatus(file).status;
      const held = st?.held;
      if (st?.phase === 'Degraded') {
        // A crash loop: forget the exits that made it one, so the next plan starts the process again
        // (a hold on a failed version, if any, stays: retry again to lift that).
        // A rolled-back instance stays RolledBack: its process is restarted, not rolled back again.
        await withInstanceLock(loaded.paths, name, () => updateStatus(file, {
          crashes: [], phase: held ? 'RolledBack' : 'Progressing', message: 'retry after a crash loop requested',
        }));
        process.stdout.write(`${name}: crash loop cleared\n`);
      } else if (held) {
        await withInstanceLock(loaded.paths, name, () => updateStatus(file, { held: undefined, phase: 'Progressing', message: `retry of ${held.version} requested` }));
        process.stdout.write(`${name}: hold on ${held.version} lifted\n`);
      } else {
        process.stdout.write(`${name}: nothing is held\n`);
      }
      if (!opts.apply) return;
      process.exitCode = await reconcileOne(cmd, name);
    });
}
