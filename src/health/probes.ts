// One health probe try: HTTP GET, TCP connect or a command, bounded by a timeout and an AbortSignal.
import { request, type RequestOptions } from 'node:http';
import { connect } from 'node:net';
import { execa } from 'execa';
import { errorMessage } from '../shared/errors.js';

export type ProbeResult = { ok: true } | { ok: false; detail: string; timedOut?: boolean };

export interface ProbeOptions {
  /** The try fails with `no answer within ...` after this long (the request, socket or command is ended). */
  timeoutMs: number;
  /** Aborting ends the try at once (request destroyed, socket closed, command's process group killed). */
  signal?: AbortSignal;
  /** Commands only: working directory. */
  cwd?: string;
  /** Commands only: variables added to tend's own environment. */
  env?: Record<string, string>;
}

/** The error a health wait rejects with when its signal aborts: name `AbortError`, code `ABORT_ERR`, `cause` the signal's reason. */
export function abortError(reason?: unknown): Error {
  const err = new Error('health check aborted', { cause: reason });
  err.name = 'AbortError';
  (err as NodeJS.ErrnoException).code = 'ABORT_ERR';
  return err;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR');
}

/** Where to connect for a listen address: the wildcard addresses mean this host's loopback. */
export function connectHost(address: string): string {
  const a = address.trim().replace(/^\[(.*)\]$/, '$1');
  if (a === '' || a === '0.0.0.0' || a === '*') return '127.0.0.1';
  if (a === '::' || a === '::0') return '::1';
  return a;
}

/** `127.0.0.1:8080`, `[::1]:8080`. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${Number((ms / 1000).toFixed(1))}s`;
}

const NET_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EADDRNOTAVAIL: 'address not available',
  EPIPE: 'connection closed',
};

function netWords(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return (code && NET_WORDS[code]) ?? err.message;
}

/**
 * Runs `body` with a signal of its own, which fires when the try times out or the caller aborts.
 * The timeout resolves as a failed try; the caller's abort rejects with `abortError`. Either way
 * this returns at once: the body only has to let go of what it holds when its signal fires.
 */
function bounded(o: ProbeOptions, timeoutDetail: string, body: (signal: AbortSignal) => Promise<ProbeResult>): Promise<ProbeResult> {
  if (o.signal?.aborted) return Promise.reject(abortError(o.signal.reason));
  const own = new AbortController();
  return new Promise<ProbeResult>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => resolve({ ok: false, detail: timeoutDetail, timedOut: true })), o.timeoutMs);
    const onAbort = () => finish(() => reject(abortError(o.signal?.reason)));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    function finish(settle: () => void) {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      own.abort();
      settle();
    }
    body(own.signal).then(
      (r) => finish(() => resolve(r)),
      (err: unknown) => finish(() => resolve({ ok: false, detail: errorMessage(err) })),
    );
  });
}

/** `GET path` on host:port; a 2xx answer is healthy, any other answer or a connection error is not. */
export function probeHttp(address: string, port: number, path: string, o: ProbeOptions): Promise<ProbeResult> {
  const host = connectHost(address);
  const p = path.startsWith('/') ? path : `/${path}`;
  const url = `http://${hostPort(host, port)}${p}`;
  return bounded(o, `no answer from ${url} within ${formatMs(o.timeoutMs)}`, (signal) => new Promise((resolve) => {
    const opts: RequestOptions & { autoSelectFamily: boolean } = {
      host, port, path: p, method: 'GET', agent: false, signal, autoSelectFamily: true,
      headers: { 'user-agent': 'tend-health-check', accept: '*/*', connection: 'close' },
    };
    const req = request(opts, (res) => {
      const code = res.statusCode ?? 0;
      res.on('error', () => undefined);
      res.destroy();
      resolve(code >= 200 && code < 300 ? { ok: true } : { ok: false, detail: `HTTP ${code} from ${p}` });
    });
    req.on('error', (err) => resolve({ ok: false, detail: `GET ${url}: ${netWords(err)}` }));
    req.end();
  }));
}

/** A TCP connection to host:port that opens is healthy. */
export function probeTcp(address: string, port: number, o: ProbeOptions): Promise<ProbeResult> {
  const host = connectHost(address);
  const where = hostPort(host, port);
  return bounded(o, `no TCP connection to ${where} within ${formatMs(o.timeoutMs)}`, (signal) => new Promise((resolve) => {
    const sock = connect({ host, port, autoSelectFamily: true });
    const stop = () => sock.destroy();
    signal.addEventListener('abort', stop, { once: true });
    sock.once('connect', () => {
      sock.destroy();
      resolve({ ok: true });
    });
    sock.once('error', (err) => resolve({ ok: false, detail: `TCP connect to ${where}: ${netWords(err)}` }));
    sock.once('close', () => signal.removeEventListener('abort', stop));
  }));
}

function lastLine(text: string): string {
  const line = text.split('\n').map((l) => l.trim()).filter((l) => l !== '').pop() ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/**
 * Runs argv (no shell) in its own process group; exit 0 is healthy. On timeout or abort the whole
 * group is killed, so a command that started children of its own cannot outlive its try.
 */
export function probeExec(argv: readonly string[], o: ProbeOptions): Promise<ProbeResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.resolve({ ok: false, detail: 'the health command is empty' });
  const shown = argv.join(' ');
  return bounded(o, `${shown} did not finish within ${formatMs(o.timeoutMs)}`, async (signal) => {
    const sub = execa(file, args, {
      reject: false, stdin: 'ignore', all: true, detached: true, maxBuffer: 64 * 1024,
      ...(o.cwd ? { cwd: o.cwd } : {}), ...(o.env ? { env: o.env } : {}),
    });
    const kill = () => {
      try {
        if (sub.pid) process.kill(-sub.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    signal.addEventListener('abort', kill, { once: true });
    try {
      const r = await sub;
      if (r.exitCode === 0) return { ok: true };
      const out = lastLine(String(r.all ?? ''));
      if ((r as { code?: string }).code === 'ENOENT') return { ok: false, detail: `${file}: command not found` };
      const how = r.exitCode !== undefined ? `exited with status ${r.exitCode}` : r.signal ? `was killed by ${r.signal}` : 'failed';
      return { ok: false, detail: `${shown} ${how}${out ? `: ${out}` : ''}` };
    } finally {
      signal.removeEventListener('abort', kill);
    }
  });
}
