// Renders diagnostics as `file:line:col: severity: message`, one per line.
import type { Diagnostic } from '../model/types.js';

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file === undefined ? '' : d.line === undefined ? `${d.file}: ` : `${d.file}:${d.line}:${d.col ?? 1}: `;
  return `${where}${d.severity}: ${d.message}`;
}

/** As formatDiagnostic, without the `error: ` of an error (for messages that already say error once). */
export function formatProblem(d: Diagnostic): string {
  return d.severity === 'error' ? formatDiagnostic(d).replace(/(^|: )error: /, '$1') : formatDiagnostic(d);
}

export function renderDiagnostics(list: readonly Diagnostic[]): string {
  return list.map((d) => `${formatDiagnostic(d)}\n`).join('');
}

export function countErrors(list: readonly Diagnostic[]): number {
  return list.filter((d) => d.severity === 'error').length;
}
