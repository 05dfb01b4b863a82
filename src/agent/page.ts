// The agent's status page: one server-rendered HTML document, no scripts, no external assets, every value escaped.
import type { HistoryEntry, Phase } from '../model/types.js';
import type { InstanceStatus } from '../status/index.js';
import { ago, formatDuration, versionText } from '../views/status-text.js';
import type { ReconcileRecord } from './types.js';

export interface PageInstance {
  row: InstanceStatus;
  lastReconcile?: ReconcileRecord;
  /** Newest first. */
  history: HistoryEntry[];
}

export interface PageInput {
  app: string;
  root: string;
  startedAt: string;
  queueDepth: number;
  warnings: string[];
  instances: PageInstance[];
  now: Date;
  /** Seconds between reloads (meta refresh); 0 turns it off. */
  refreshSeconds: number;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export const PHASE_COLORS: Record<Phase, string> = {
  Ready: '#1a7f37',
  Progressing: '#0969da',
  Interrupted: '#953800',
  Degraded: '#bc4c00',
  RolledBack: '#9a6700',
  Failed: '#cf222e',
  Stopped: '#6e7781',
  InvalidSpec: '#8250df',
  Unknown: '#57606a',
};

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1f2328;background:#fff}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
.meta{color:#57606a;margin:0 0 1em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
.phase{display:inline-block;padding:.05em .55em;border-radius:1em;color:#fff;font-weight:600;font-size:.9em}
.muted{color:#57606a}.bad{color:#cf222e}
.warnings{background:#fff8c5;border:1px solid #d4a72c;padding:.5em 1em .5em 2em;border-radius:6px}
.history{margin:.2em 0 .8em}.history li{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.9em}
`;

function cell(field: string, content: string, title?: string): string {
  return `<td data-field="${field}"${title !== undefined ? ` title="${escapeHtml(title)}"` : ''}>${content}</td>`;
}

function healthCell(r: InstanceStatus, now: Date): string {
  if (!r.health) return cell('health', '<span class="muted">-</span>');
  const when = r.health.now ? undefined : ago(r.health.at, now);
  const text = `${r.health.healthy ? 'healthy' : 'unhealthy'}${when ? ` ${when}` : ''}`;
  return cell('health', `<span class="${r.health.healthy ? '' : 'bad'}">${escapeHtml(text)}</span>`, r.health.reason ?? r.health.at);
}

function messageText(r: InstanceStatus): string {
  const parts = [r.message, r.held ? `held: ${r.held.version} (${r.held.reason})` : undefined, ...r.warnings];
  return parts.filter((p): p is string => p !== undefined && p !== '').join(' · ');
}

function reconcileCell(rec: ReconcileRecord | undefined, now: Date): string {
  if (!rec) return cell('lastReconcile', '<span class="muted">-</span>');
  const when = ago(rec.at, now);
  const took = rec.durationMs < 1000 ? `${Math.round(rec.durationMs)}ms`
    : rec.durationMs < 60_000 ? `${(rec.durationMs / 1000).toFixed(1)}s` : formatDuration(rec.durationMs / 1000);
  const text = `${rec.result} in ${took}${when ? `, ${when}` : ''}`;
  const cls = rec.result === 'ok' ? '' : ' class="bad"';
  return cell('lastReconcile', `<span${cls} data-result="${escapeHtml(rec.result)}">${escapeHtml(text)}</span>`, rec.message ?? rec.at);
}

function instanceRow(i: PageInstance, now: Date): string {
  const r = i.row;
  const phase = `<span class="phase" style="background:${PHASE_COLORS[r.phase] ?? '#57606a'}">${escapeHtml(r.phase)}</span>`;
  const port = r.port !== undefined ? `${r.address ?? '127.0.0.1'}:${r.port}${r.desiredPort !== undefined ? ` (want ${r.desiredPort})` : ''}` : '-';
  return [
    `<tr data-instance="${escapeHtml(r.name)}" data-phase="${escapeHtml(r.phase)}">`,
    cell('name', escapeHtml(r.name), r.file),
    cell('runtime', escapeHtml(r.runtime ?? '-')),
    cell('phase', phase, r.since ? `since ${r.since}` : undefined),
    cell('desiredVersion', escapeHtml(r.desiredVersion ?? '-')),
    cell('observedVersion', escapeHtml(r.observedVersion ?? '-'), versionText(r)),
    cell('port', escapeHtml(port)),
    healthCell(r, now),
    cell('message', escapeHtml(messageText(r) || '-')),
    reconcileCell(i.lastReconcile, now),
    '</tr>',
  ].join('');
}

function historySection(i: PageInstance): string {
  const items = i.history.map((e) => {
    const text = `${e.updatedAt}  ${e.version}  ${e.reason}  ${e.outcome}  by ${e.updatedBy}${e.detail ? `  ${e.detail}` : ''}`;
    return `<li data-outcome="${escapeHtml(e.outcome)}">${escapeHtml(text)}</li>`;
  });
  const body = items.length > 0 ? `<ul class="history">${items.join('')}</ul>` : '<p class="muted history">no history yet</p>';
  return `<section data-history="${escapeHtml(i.row.name)}"><h3>${escapeHtml(i.row.name)}</h3>${body}</section>`;
}

/** The whole page. */
export function renderStatusPage(p: PageInput): string {
  const refresh = p.refreshSeconds > 0 ? `<meta http-equiv="refresh" content="${Math.ceil(p.refreshSeconds)}">` : '';
  const warnings = p.warnings.length > 0
    ? `<ul id="warnings" class="warnings">${p.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>`
    : '';
  const rows = p.instances.length > 0
    ? p.instances.map((i) => instanceRow(i, p.now)).join('\n')
    : '<tr><td colspan="9" class="muted">no instances</td></tr>';
  const started = ago(p.startedAt, p.now);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">${refresh}
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>tend · ${escapeHtml(p.app)}</title><style>${STYLE}</style></head>
<body>
<h1>tend · ${escapeHtml(p.app)}</h1>
<p class="meta" id="agent">root <code>${escapeHtml(p.root)}</code> · agent started ${escapeHtml(p.startedAt)}${started ? ` (${escapeHtml(started)})` : ''} · queue <span id="queue-depth">${escapeHtml(p.queueDepth)}</span> · page at <span id="generated-at">${escapeHtml(p.now.toISOString())}</span></p>
${warnings}
<table id="instances"><thead><tr><th>Name</th><th>Runtime</th><th>Phase</th><th>Desired</th><th>Running</th><th>Port</th><th>Health</th><th>Message</th><th>Last reconcile</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<h2>Recent changes</h2>
${p.instances.map(historySection).join('\n')}
</body></html>
`;
}
