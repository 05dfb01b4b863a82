// `tend reconcile --dry-run`: observe, plan (pure), render the plan as text or JSON.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Plan } from '../model/types.js';
import { observeAll } from '../observe/index.js';
import { plan } from '../planner/plan.js';
import { countErrors, renderDiagnostics } from '../views/diagnostics.js';
import { renderPlanJson, renderPlanText } from '../views/plan-text.js';
import { loadRoot, type GlobalOptions } from './load.js';

interface ReconcileOptions {
  dryRun?: boolean;
  json?: boolean;
  detailedExitcode?: boolean;
  prune?: boolean;
  force?: boolean;
  observed?: string;
}

const EMPTY_SUMMARY = { create: 0, update: 0, replace: 0, delete: 0, change: 0, held: 0, invalid: 0, blocked: 0, orphan: 0, unchanged: 0 };

/** True when the plan would change something (orphan reports change nothing). */
export function hasChanges(p: Plan): boolean {
  return p.actions.some((a) => a.type !== 'orphan');
}

export function registerReconcile(program: Command): void {
  program
    .command('reconcile')
    .description('converge what runs to desired/; with --dry-run, only show the plan')
    .option('--dry-run', 'show the plan and change nothing')
    .option('--json', 'print the plan as JSON (schemas/plan.schema.json)')
    .option('--detailed-exitcode', 'with --dry-run: exit 0 when nothing to do, 2 when actions are planned, 1 on errors')
    .option('--prune', 'delete instances whose desired file was removed (like prune.deleteRemoved)')
    .option('--force', 'override the deletion breaker and held versions')
    .option('--observed <file>', 'plan against a saved observed snapshot (schemas/observed.schema.json) instead of this host')
    .addHelpText('after', '\nExit codes: 0 converged (dry-run: no errors), 1 errors; with --dry-run --detailed-exitcode: 0 nothing to do, 2 actions planned, 1 errors.')
    .action(async (opts: ReconcileOptions, cmd: Command) => {
      if (!opts.dryRun) {
        process.stderr.write('error: applying a plan is not available yet in this version of tend; use tend reconcile --dry-run\n');
        process.exitCode = 1;
        return;
      }
      const root = loadRoot(cmd.optsWithGlobals<GlobalOptions>(), 'plan');
      if (!root.desired) {
        if (opts.json) {
          const p: Plan = { formatVersion: 1, app: '', summary: EMPTY_SUMMARY, instances: [], actions: [], diagnostics: root.diagnostics };
          process.stdout.write(renderPlanJson(p));
        } else {
          process.stderr.write(renderDiagnostics(root.diagnostics));
        }
        process.exitCode = 1;
        return;
      }
      const snapshot = opts.observed !== undefined ? resolve(process.cwd(), opts.observed) : undefined;
      const obs = await observeAll(root.desired, root.paths, snapshot);
      const result = plan(root.desired, obs.observed, obs.releases, obs.instances, { prune: opts.prune, force: opts.force });
      process.stdout.write(opts.json ? renderPlanJson(result) : renderPlanText(result));
      if (countErrors(result.diagnostics) > 0) process.exitCode = 1;
      else process.exitCode = opts.detailedExitcode && hasChanges(result) ? 2 : 0;
    });
}
