// What a scenario hands back, and its Markdown rendering (bench/RESULTS.md).

export type SectionStatus = 'measured' | 'skipped' | 'failed' | 'not-yet-measured';

export interface Table {
  caption?: string;
  columns: string[];
  rows: string[][];
}

export interface Section {
  id: string;
  title: string;
  status: SectionStatus;
  /** One-line paragraphs shown above the tables (method, settings, caveats). */
  notes: string[];
  tables: Table[];
  /** Issue 8's targets: [target, measured, verdict]; reported, never asserted. */
  targets: string[][];
  /** Raw samples by figure name, written to RESULTS.json. */
  raw: Record<string, unknown>;
}

export function section(id: string, title: string, status: SectionStatus = 'measured'): Section {
  return { id, title, status, notes: [], tables: [], targets: [], raw: {} };
}

export const TARGET_COLUMNS = ['target', 'measured (median)', 'verdict'];

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function renderTable(t: Table): string {
  const lines: string[] = [];
  if (t.caption) lines.push(t.caption, '');
  lines.push(`| ${t.columns.map(cell).join(' | ')} |`);
  lines.push(`| ${t.columns.map(() => '---').join(' | ')} |`);
  for (const r of t.rows) lines.push(`| ${r.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

export function renderSection(s: Section): string {
  const badge = s.status === 'measured' ? '' : ` — **${s.status.replaceAll('-', ' ')}**`;
  const out = [`## ${s.title}${badge}`, ''];
  for (const n of s.notes) out.push(n, '');
  for (const t of s.tables) out.push(renderTable(t), '');
  if (s.targets.length > 0) out.push(renderTable({ caption: 'Targets (reported, not asserted):', columns: TARGET_COLUMNS, rows: s.targets }), '');
  return out.join('\n');
}

/** "met" / "not met" against a target, judged on the median; for reporting only, never asserted. */
export function verdict(ok: boolean): string {
  return ok ? 'met' : '**not met**';
}
