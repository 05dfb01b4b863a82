// The agent's status server (node:http): /healthz, /status (JSON), /metrics (Prometheus text) and / (the status page).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InstanceStatus } from '../status/index.js';
import { statusJson } from '../views/status-text.js';
import { exposureWarning, hostCheck, listenError, type HostCheck } from './host-check.js';
import type { AgentMetrics } from './metrics.js';
import { renderStatusPage, type PageInstance } from './page.js';
import type { AgentView } from './types.js';

/** The part of a pino logger the server uses. */
export interface StatusServerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface StatusServerOptions {
  /** `HOST:PORT` (`[::1]:9464` for IPv6); port 0 picks a free one. Config `agent.listen`. */
  listen: string;
  view: AgentView;
  metrics: AgentMetrics;
  log?: StatusServerLog;
  /** Page auto-refresh in seconds (default 5; 0 turns it off). */
  refreshSeconds?: number;
  /** History lines per instance on the page (default 5). */
  historyLimit?: number;
}

export interface StatusServer {
  /** `http://HOST:PORT` with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** `HOST:PORT` split; throws on anything else. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new Error(`agent.listen: expected HOST:PORT (e.g. 127.0.0.1:9464), got '${listen}'`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The `/status` document: the agent and one row per instance with its last reconcile. */
export async function statusDocument(view: AgentView) {
  const rows = await view.instances();
  return {
    agent: { root: view.root, app: view.app, startedAt: view.startedAt, queueDepth: view.queueDepth(), warnings: view.warnings() },
    instances: rows.map((r) => {
      const rec = view.lastReconcile(r.name);
      return {
        ...statusJson(r),
        lastReconcile: rec ? { at: rec.at, durationMs: rec.durationMs, result: rec.result, message: rec.message ?? null } : null,
      };
    }),
  };
}

function pageInstances(view: AgentView, rows: InstanceStatus[], limit: number): PageInstance[] {
  return rows.map((row) => {
    const rec = view.lastReconcile(row.name);
    return { row, history: view.history(row.name, limit), ...(rec ? { lastReconcile: rec } : {}) };
  });
}

type Route = (view: AgentView) => Promise<{ type: string; body: string }>;

function routes(opts: StatusServerOptions): Record<string, Route> {
  const refreshSeconds = opts.refreshSeconds ?? 5;
  const historyLimit = opts.historyLimit ?? 5;
  return {
    '/healthz': async () => ({ type: 'text/plain; charset=utf-8', body: 'ok\n' }),
    '/status': async (view) => ({ type: 'application/json; charset=utf-8', body: `${JSON.stringify(await statusDocument(view), null, 2)}\n` }),
    '/metrics': async (view) => ({ type: METRICS_CONTENT_TYPE, body: await opts.metrics.render(await view.instances(), view.queueDepth()) }),
    '/': async (view) => {
      const rows = await view.instances();
      const body = renderStatusPage({
        app: view.app, root: view.root, startedAt: view.startedAt, queueDepth: view.queueDepth(), warnings: view.warnings(),
        instances: pageInstances(view, rows, historyLimit), now: new Date(), refreshSeconds,
      });
      return { type: 'text/html; charset=utf-8', body };
    },
  };
}

const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // No scripts and no external assets: the page needs inline styles only.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'",
};

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...COMMON_HEADERS, 'content-type': type, 'content-length': String(buf.length), ...extra });
  res.end(req.method === 'HEAD' ? undefined : buf);
}

/** Starts serving; resolves once listening. Throws ListenError (one line, e.g. the port is taken) when it cannot. */
export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const { host, port } = parseListen(opts.listen);
  const table = routes(opts);
  // Known once the socket is bound (the port may be 0); until then nothing is answered.
  const bound: { hosts?: HostCheck } = {};
  const server = createServer((req, res) => {
    // DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 still sends Host: evil.example.
    if (!bound.hosts?.allows(req.headers.host)) {
      const primary = bound.hosts?.primary ?? opts.listen;
      return send(req, res, 421, 'text/plain; charset=utf-8', `misdirected request: this server answers Host ${primary} or localhost\n`);
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = Object.hasOwn(table, path) ? table[path] : undefined;
    if (!route) return send(req, res, 404, 'text/plain; charset=utf-8', `not found: try / /status /metrics /healthz\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(req, res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
    }
    route(opts.view).then(
      (r) => send(req, res, 200, r.type, r.body),
      (e: unknown) => {
        // The error's text stays in the log (which redacts secrets); the response says only what failed.
        opts.log?.error({ err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e), path }, 'status server: request failed');
        if (!res.headersSent) send(req, res, 500, 'text/plain; charset=utf-8', `internal error serving ${path}; see the agent log\n`);
        else res.destroy();
      },
    );
  });
  server.on('clientError', (_err, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); else socket.destroy(); });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: unknown) => reject(listenError(opts.listen.trim(), err));
    server.once('error', failed);
    server.listen(port, host, () => { server.off('error', failed); resolve(); });
  });
  const addr = server.address() as AddressInfo;
  bound.hosts = hostCheck(host, addr.address, addr.port);
  const url = `http://${addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  opts.log?.info({ url }, 'status server listening');
  const exposed = exposureWarning(host, addr.port);
  if (exposed) opts.log?.warn({ url }, exposed);
  return {
    url,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeIdleConnections();
      // A keep-alive client that never goes idle must not hold the agent's shutdown.
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    }),
  };
}
