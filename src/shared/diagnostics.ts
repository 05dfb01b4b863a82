// Stable order and de-duplication of diagnostics, and .env problems as diagnostics (pure; shared by the loader and the planner).
import type { Diagnostic, EnvProblem } from '../model/types.js';

function key(d: Diagnostic): string {
  return [d.file ?? '', String(d.line ?? 0).padStart(8, '0'), String(d.col ?? 0).padStart(8, '0'), d.severity, d.message].join('\u0000');
}

export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of list) {
    const k = key(d);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(d);
    }
  }
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The problems of instance `instance`'s .env (`file` as shown, e.g. instances/web/.env) as error diagnostics. */
export function envProblemDiagnostics(file: string, instance: string, problems: readonly EnvProblem[]): Diagnostic[] {
  return problems.map((p) => ({ severity: 'error', file, line: p.line, col: p.col, instance, message: p.message }));
}
