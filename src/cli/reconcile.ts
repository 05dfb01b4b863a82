// `tend reconcile --dry-run`: observe, plan (pure), render the plan as text or JSON.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Plan } from '../model/plan.js';
import { countErrors, renderDiagnostics } from '../shared/diagnostic-text.js';
import { renderPlanJson, renderPlanText } from '../views/plan-text.js';
import { loadRoot, type GlobalOptions } from './load.js';
import { preview, reconcile } from '../executor/reconcile.js';
import type { DesiredState } from '../model/types.js';
import type { RootPaths } from '../spec/config.js';

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
    .addHelpText('after', [
      '',
      'Exit codes:',
      '  0  converged (with --dry-run: no errors)',
      '  1  errors: invalid or blocked instances, a failed action, a rollback that failed too',
      '  3  converged except instances held after a failed health check (rolled back, or stopped',
      '     after a first start that never turned healthy); see tend status',
      '  with --dry-run --detailed-exitcode: 0 nothing to do, 2 actions planned, 1 errors',
    ].join('\n'))
    .action(async (opts: ReconcileOptions, cmd: Command) => {
      const root = loadRoot(cmd.optsWithGlobals<GlobalOptions>(), 'plan');
      if (!opts.dryRun) {
        if (opts.observed !== undefined) {
          process.stderr.write('error: --observed plans against a snapshot of another host; it only works with --dry-run\n');
          process.exitCode = 1;
          return;
        }
        if (!root.desired) {
          process.stderr.write(renderDiagnostics(root.diagnostics));
          process.exitCode = 1;
          return;
        }
        process.exitCode = await applyAndReport(root.desired, root.paths, opts);
        return;
      }
      if (!root.desired) {
        if (opts.json) {
          const p: Plan = { formatVersion: 2, app: '', summary: EMPTY_SUMMARY, instances: [], actions: [], diagnostics: root.diagnostics };
          process.stdout.write(renderPlanJson(p));
        } else {
          process.stderr.write(renderDiagnostics(root.diagnostics));
        }
        process.exitCode = 1;
        return;
      }
      const snapshot = opts.observed !== undefined ? resolve(process.cwd(), opts.observed) : undefined;
      const { plan: result } = await preview(root.desired, root.paths, { prune: opts.prune, force: opts.force, ...(snapshot ? { snapshot } : {}) });
      process.stdout.write(opts.json ? renderPlanJson(result) : renderPlanText(result));
      if (countErrors(result.diagnostics) > 0) process.exitCode = 1;
      else process.exitCode = opts.detailedExitcode && hasChanges(result) ? 2 : 0;
    });
}

/** Applies the plan, printing it first and then one line per instance that had work; returns the exit code. */
async function applyAndReport(desired: DesiredState, paths: RootPaths, opts: ReconcileOptions): Promise<number> {
  const errors: string[] = [];
  const result = await reconcile(desired, paths, {
    prune: opts.prune ?? false, force: opts.force ?? false,
    log: (level, message) => {
      if (level === 'error') errors.push(message);
      if (!opts.json) process.stderr.write(`${level}: ${message}\n`);
    },
  });
  const [first, followUp] = result.plans;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({
      formatVersion: 2, exitCode: result.exitCode, held: result.held, plan: first, ...(followUp ? { followUp } : {}), outcomes: result.outcomes,
    }, null, 2)}\n`);
    return result.exitCode;
  }
  process.stdout.write(renderPlanText(first!));
  if (followUp) {
    process.stdout.write('\nAfter the failed health check(s):\n');
    process.stdout.write(renderPlanText(followUp));
  }
  if (result.outcomes.length > 0) process.stdout.write('\n');
  for (const o of result.outcomes) {
    if (o.plan && o.done.length === 0 && o.plan.actions.length === 0) {
      // Planned again once its lock was free: another tend process had done (or settled) it meanwhile.
      process.stdout.write(`${o.name}: nothing left to do (${o.plan.reason})\n`);
      continue;
    }
    const what = o.result === 'ok' ? 'done' : o.result === 'unhealthy' ? 'unhealthy' : 'FAILED';
    process.stdout.write(`${o.name}: ${o.change} ${o.version ?? ''} ${what}${o.reason ? `: ${o.reason}` : ''}\n`.replace(/  +/g, ' '));
  }
  for (const name of result.held) process.stdout.write(`${name}: held (see tend status ${name})\n`);
  const verdict = result.exitCode === 0 ? 'converged' : result.exitCode === 3 ? 'converged except held instances' : 'errors';
  process.stdout.write(`Reconcile: ${verdict}\n`);
  return result.exitCode;
}
