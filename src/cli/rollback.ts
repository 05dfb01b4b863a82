// `tend rollback <name> [--to V]` and `tend retry <name>` (ops/rollback.ts, ops/retry.ts): edits of the desired file / the hold,
// followed by a reconcile of that instance only.
import type { Command } from 'commander';
import { reconcile } from '../executor/reconcile.js';
import type { DesiredState, HistoryReason } from '../model/types.js';
import { previewRollback, rollbackInstance } from '../ops/rollback.js';
import { retryInstance } from '../ops/retry.js';
import type { RootPaths } from '../spec/config.js';
import { readStatus, statusPath } from '../state/status.js';
import { renderDiagnostics } from '../shared/diagnostic-text.js';
import { guarded, printEdits, printOutcomes, printPlanProblems, printPreview, projectOf, stderrLog } from './edit-output.js';
import { loadRoot, type GlobalOptions } from './load.js';

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

interface RollbackCliOptions {
  to?: string;
  apply: boolean;
  local?: boolean;
  dryRun?: boolean;
  detailedExitcode?: boolean;
}

export function registerRollback(program: Command): void {
  program
    .command('rollback <name>')
    .description('write an earlier version into desired/<name>.yaml and reconcile that instance: the last healthy version before the one the file names, or, when that one never ran healthy (tend already rolled it back), the version that runs')
    .option('--to <version>', 'the version to go back to (a git tag; it must exist)')
    .option('--no-apply', 'only edit the desired file')
    .option('--local', 'edit the desired file even though agent.git.pull is on')
    .option('--dry-run', 'show the version chosen, the file edit and the plan; write and change nothing')
    .option('--detailed-exitcode', 'with --dry-run: exit 0 when nothing to do, 2 when an edit or actions are planned, 1 on errors')
    .addHelpText('after', [
      '',
      'After an automatic rollback (the file names v2.0.0, tend rolled back to v1.1.0, which runs),',
      '`tend rollback web` pins the file to v1.1.0: it stops asking for the failed version, the hold',
      'goes, and nothing restarts. Run it again to go back further, or name a version with --to.',
      '',
      'Exit codes: 0 done, 1 errors (unknown instance or tag, no earlier healthy version, a failed apply), 3 the version failed its health check and was held.',
      'With --dry-run: 0 (--detailed-exitcode: 0 nothing to do, 2 an edit or actions planned), 1 errors.',
    ].join('\n'))
    .action((name: string, opts: RollbackCliOptions, cmd: Command) => guarded(async () => {
      const project = projectOf(cmd);
      if (opts.dryRun) {
        const p = await previewRollback(project, name, opts.to, { local: opts.local ?? false });
        process.stdout.write(`${p.choice.why}\n`);
        return printPreview(p, 'version', p.choice.to, opts.detailedExitcode);
      }
      const r = await rollbackInstance(project, name, opts.to, {
        apply: opts.apply, local: opts.local ?? false, reconcile: { log: stderrLog },
      });
      process.stdout.write(`${r.choice.why}\n`);
      printEdits(r, 'version', r.choice.to);
      printOutcomes(r.outcomes);
      printPlanProblems(r.reconcile, r.instances);
      return r.reconcile?.exitCode ?? 0;
    }));

  program
    .command('retry <name>')
    .description('lift the hold on a version that failed its health check (or clear a crash loop) and reconcile that instance (it is tried again)')
    .option('--no-apply', 'only lift the hold')
    .addHelpText('after', '\nExit codes: 0 done, 1 errors, 3 it failed its health check again and is held.')
    .action((name: string, opts: { apply: boolean }, cmd: Command) => guarded(async () => {
      // Lifting the hold is ops/retry.ts's; the reconcile is printed as tend rollback prints it.
      const r = await retryInstance(projectOf(cmd), name, { apply: false });
      process.stdout.write(r.cleared === 'crash-loop' ? `${name}: crash loop cleared\n` : r.cleared === 'hold' ? `${name}: hold on ${r.version} lifted\n` : `${name}: nothing is held\n`);
      return opts.apply ? reconcileOne(cmd, name) : 0;
    }));
}
