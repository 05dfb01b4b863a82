// Shared by the commands that edit desired files and reconcile (start, stop, restart, update): loading
// the project, printing edits and outcomes, and turning OpsError into exit 1.
import type { Command } from 'commander';
import type { EditResult, InstanceOutcomeSummary, Project } from '../ops/edit.js';
import { OpsError } from '../ops/guard.js';
import type { EditPreview } from '../ops/preview.js';
import { renderPlanText } from '../views/plan-text.js';
import { countErrors } from '../shared/diagnostic-text.js';
import type { Log } from '../shared/log.js';
import type { ReconcileResult } from '../executor/reconcile.js';
import { formatDiagnostic } from '../shared/diagnostic-text.js';
import { loadRoot, type GlobalOptions } from './load.js';
import { errorKind, errorMessage, exitCodeOf } from '../shared/errors.js';

/** The deployment root (`-C DIR` or the working dir); throws OpsError listing tend.yaml's errors. */
export function projectOf(cmd: Command): Project {
  const root = loadRoot(cmd.optsWithGlobals<GlobalOptions>(), 'plan');
  if (!root.desired) {
    const errors = root.diagnostics.filter((d) => d.severity === 'error');
    throw new OpsError(errors.map(formatDiagnostic).join('\n') || 'tend.yaml is not usable', 'invalid', root.diagnostics);
  }
  return { desired: root.desired, paths: root.paths };
}

/** Reconcile progress on stderr, as `tend reconcile` prints it. */
export const stderrLog: Log = (level, message) => process.stderr.write(`${level}: ${message}\n`);

export function printEdits(r: Pick<EditResult, 'edits' | 'unchanged' | 'commitHint'>, key: string, value: string): void {
  for (const e of r.edits) process.stdout.write(`${e.file}: ${e.key} ${e.from === undefined ? '(unset)' : String(e.from)} -> ${e.to}\n`);
  for (const n of r.unchanged) process.stdout.write(`${n}: already ${key}: ${value}\n`);
  if (r.commitHint) {
    const files = r.edits.map((e) => e.file).join(' ');
    process.stdout.write(`${files} ${r.edits.length > 1 ? 'are' : 'is'} in a git repository: commit the change so it stays the source of truth (git commit ${files})\n`);
  }
}

export function printOutcomes(outcomes: readonly InstanceOutcomeSummary[]): void {
  for (const o of outcomes) {
    process.stdout.write(`${o.name}: ${o.phase ?? 'unchanged'}${o.version ? ` (${o.version})` : ''}${o.message ? `: ${o.message}` : ''}\n`);
  }
}

/**
 * Why the reconcile could not act on `names`, on stderr: the plans' error diagnostics about them
 * (`desired/web.yaml:3:10: error: Git tag v9.9.9 not found`), else the reason a named instance was
 * blocked or invalid. Without it an exit 1 from a plan that refused an instance would say nothing.
 */
export function printPlanProblems(result: ReconcileResult | undefined, names: readonly string[]): void {
  if (!result) return;
  const wanted = new Set(names);
  const lines = new Set<string>();
  const explained = new Set<string>();
  for (const p of result.plans) {
    for (const d of p.diagnostics) {
      if (d.severity !== 'error' || d.instance === undefined || !wanted.has(d.instance)) continue;
      lines.add(formatDiagnostic(d));
      explained.add(d.instance);
    }
  }
  for (const instances of [...result.plans.map((p) => p.instances), result.final]) {
    for (const ip of instances) {
      if (wanted.has(ip.name) && !explained.has(ip.name) && (ip.change === 'blocked' || ip.change === 'invalid')) {
        lines.add(`error: ${ip.name} is ${ip.change}: ${ip.reason}`);
        explained.add(ip.name);
      }
    }
  }
  for (const l of lines) process.stderr.write(`${l}\n`);
}

/**
 * `--dry-run` of update and rollback: the edits that would be written (`(dry run: not written)`) and
 * the plan for those instances, as `tend reconcile --dry-run` prints it. The exit code is reconcile
 * --dry-run's: 1 error diagnostics, else with `detailed` 2 when an edit or an action is planned, 0 when
 * there is nothing to do; without `detailed` 0.
 */
export function printPreview(p: EditPreview, key: string, value: string, detailed: boolean | undefined): number {
  for (const e of p.edits) process.stdout.write(`${e.file}: ${e.key} ${e.from === undefined ? '(unset)' : String(e.from)} -> ${e.to} (dry run: not written)\n`);
  for (const n of p.unchanged) process.stdout.write(`${n}: already ${key}: ${value}\n`);
  process.stdout.write(`\n${renderPlanText(p.plan)}`);
  if (countErrors(p.plan.diagnostics) > 0) return 1;
  const work = p.edits.length > 0 || p.plan.actions.some((a) => a.type !== 'orphan');
  return detailed && work ? 2 : 0;
}

const SEVERITY = /^(\S+: )?(error|warning): /;

/** Runs a command body; an error is printed as `error: ...` (once) with its exit code (1), a system error's stack too under TEND_DEBUG. */
export async function guarded(body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    // `error: ` once: a line that is a diagnostic (`tend.yaml:4:13: error: ...`, `error: tend.yaml not found ...`) says it already.
    const text = errorMessage(err);
    process.stderr.write(text.split('\n').map((l) => (SEVERITY.test(l) ? `${l}\n` : `error: ${l}\n`)).join(''));
    if (errorKind(err) === 'system' && err instanceof Error && err.stack && process.env.TEND_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCodeOf(err);
  }
}
