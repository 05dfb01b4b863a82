// Health checks against real HTTP servers, TCP listeners and processes (no mocks).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectHost, healthTarget, isAbortError, livenessOf, waitHealthy, type HealthTarget } from '../src/health/index.js';
import { pidAlive } from '../src/fs/lock.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const servers: (Server | TcpServer)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => {
    if ('closeAllConnections' in s) s.closeAllConnections();
    s.close(r);
  })));
});

async function listen<S extends Server | TcpServer>(s: S, host = '127.0.0.1', port = 0): Promise<number> {
  servers.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, host, () => resolve());
  });
  return (s.address() as { port: number }).port;
}

/** A port nobody listens on (bound, then closed). */
async function freePort(): Promise<number> {
  const s = createTcpServer();
  const port = await listen(s);
  servers.splice(servers.indexOf(s), 1);
  await new Promise((r) => s.close(r));
  return port;
}

function http(handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  return createServer(handler);
}

const fast = { interval: '20ms', timeout: '5s' };

describe('HTTP', () => {
  it('a 500 is a failed try; the first 2xx is healthy', async () => {
    let n = 0;
    const paths: string[] = [];
    const port = await listen(http((req, res) => {
      paths.push(req.url ?? '');
      res.statusCode = ++n < 3 ? 500 : 204;
      res.end();
    }));
    const r = await waitHealthy({ http: '/health', ...fast, port, address: '127.0.0.1' });
    expect(r).toMatchObject({ healthy: true, tries: 3 });
    expect(paths).toEqual(['/health', '/health', '/health']);
  });

  it('the deadline ends the wait in the old words, with what the last try saw', async () => {
    const port = await listen(http((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    }));
    const r = await waitHealthy({ http: '/health', interval: '50ms', timeout: '300ms', port, address: '127.0.0.1' });
    expect(r).toMatchObject({ healthy: false, cause: 'timeout', reason: 'Health check timeout after 300ms: HTTP 500 from /health' });
    expect(r.tries).toBeGreaterThanOrEqual(2);

    const closed = await freePort();
    const refused = await waitHealthy({ http: 'ready', interval: '50ms', timeout: '200ms', port: closed, address: '0.0.0.0' });
    expect(refused).toMatchObject({ healthy: false, reason: `Health check timeout after 200ms: GET http://127.0.0.1:${closed}/ready: connection refused` });
  });

  it('a request that hangs fails its try after the per-try timeout', async () => {
    const port = await listen(http(() => undefined));
    const r = await waitHealthy({ http: '/health', interval: '20ms', timeout: '400ms', port, address: 'localhost' }, { tryTimeoutMs: 100 });
    expect(r).toMatchObject({ healthy: false, reason: `Health check timeout after 400ms: no answer from http://localhost:${port}/health within 100ms` });
    expect(r.tries).toBeGreaterThanOrEqual(2);
  });

  it('the wildcard address is checked on loopback; healthTarget takes the instance port and address', async () => {
    const port = await listen(http((_req, res) => res.end('ok')));
    const target = healthTarget({ health: { http: '/health', timeout: '5s', interval: '20ms' }, port, address: '0.0.0.0' });
    expect(target).toEqual({ http: '/health', timeout: '5s', interval: '20ms', port, address: '0.0.0.0' });
    expect(await waitHealthy(target)).toMatchObject({ healthy: true, tries: 1 });
    expect([connectHost('0.0.0.0'), connectHost('::'), connectHost('[::1]'), connectHost('localhost'), connectHost('10.0.0.5')])
      .toEqual(['127.0.0.1', '::1', '::1', 'localhost', '10.0.0.5']);
  });
});

describe('TCP', () => {
  it('fails while nothing listens and turns healthy once a listener appears', async () => {
    const port = await freePort();
    const target: HealthTarget = { tcp: true, ...fast, port, address: '127.0.0.1' };
    const details: string[] = [];
    const r = await waitHealthy(target, {
      onTry: (t) => {
        if (t.detail) details.push(t.detail);
        if (t.try === 3) void listen(createTcpServer((s) => s.destroy()), '127.0.0.1', port);
      },
    });
    expect(r).toMatchObject({ healthy: true });
    expect(r.tries).toBeGreaterThanOrEqual(4);
    expect(details[0]).toBe(`TCP connect to 127.0.0.1:${port}: connection refused`);
  });
});

describe('command', () => {
  it('exit 0 is healthy; another exit status fails its try, with the status and the last output line', async () => {
    expect(await waitHealthy({ exec: ['true'], ...fast, port: 1, address: '127.0.0.1' })).toMatchObject({ healthy: true, tries: 1 });
    const r = await waitHealthy({ exec: ['sh', '-c', 'echo not ready yet >&2; exit 1'], interval: '20ms', timeout: '200ms', port: 1, address: '127.0.0.1' });
    expect(r).toMatchObject({ healthy: false, reason: 'Health check timeout after 200ms: sh -c echo not ready yet >&2; exit 1 exited with status 1: not ready yet' });
    const missing = await waitHealthy({ exec: ['/nonexistent/check'], interval: '20ms', timeout: '100ms', port: 1, address: '127.0.0.1' });
    expect(missing).toMatchObject({ healthy: false, reason: 'Health check timeout after 100ms: /nonexistent/check: command not found' });
  });

  it('runs without a shell in the given directory with the given environment', async () => {
    const dir = realpathSync(scratch('health-exec'));
    const r = await waitHealthy(
      { exec: ['sh', '-c', 'test "$TEND_PORT" = 8081 && test "$(pwd -P)" = "$1"', 'check', dir], ...fast, port: 8081, address: '127.0.0.1' },
      { cwd: dir, env: { TEND_PORT: '8081' } },
    );
    expect(r).toMatchObject({ healthy: true, tries: 1 });
    const literal = await waitHealthy({ exec: ['test', '$HOME', '=', '$HOME'], ...fast, port: 1, address: '127.0.0.1' });
    expect(literal).toMatchObject({ healthy: true }); // `$HOME` reached test as is: no shell expanded it
  });
});

describe('a crash during the wait', () => {
  it('alive() reporting the process gone ends the wait at once with its reason, long before the deadline', async () => {
    const port = await freePort();
    let asked = 0;
    const r = await waitHealthy({ http: '/health', interval: '20ms', timeout: '30s', port, address: '127.0.0.1' }, {
      alive: async () => (++asked <= 3 ? { alive: true } : { alive: false, why: 'process exited (status 1)' }),
    });
    expect(r).toMatchObject({ healthy: false, cause: 'not-alive', reason: 'process exited (status 1)', tries: 3 });
    expect(r.ms).toBeLessThan(20_000); // generous: the deadline was 30 s
  });

  it('livenessOf turns an observed item into alive/why', () => {
    const item = { runtime: 'tmux' as const, id: 'app-web', instance: 'web', owned: true };
    expect(livenessOf({ ...item, state: 'running' })).toEqual({ alive: true });
    expect(livenessOf({ ...item, state: 'stopped', exitStatus: 1 })).toEqual({ alive: false, why: 'process exited (status 1)' });
    expect(livenessOf({ ...item, state: 'failed', exitSignal: 'SIGKILL' })).toEqual({ alive: false, why: 'process killed by SIGKILL' });
    expect(livenessOf(undefined)).toEqual({ alive: false, why: 'process is gone' });
    expect(livenessOf({ ...item, state: 'running', restarts: 2 }, { restarts: 1 }).alive).toBe(false);
    expect(livenessOf({ ...item, state: 'running', startedAt: '2026-01-01T10:00:05Z' }, { startedAt: '2026-01-01T10:00:00Z' }).alive).toBe(false);
    // A start time read to the second (launchd's from ps etime) may wobble by one: not a restart.
    expect(livenessOf({ ...item, state: 'running', startedAt: '2026-01-01T10:00:01Z' }, { startedAt: '2026-01-01T10:00:00Z' }).alive).toBe(true);
  });
});

describe('abort', () => {
  it('an AbortSignal rejects at once and ends the hanging request', async () => {
    const ac = new AbortController();
    let serverSawClose!: Promise<void>;
    const port = await listen(http((req) => {
      serverSawClose = new Promise((r) => req.socket.once('close', () => r()));
      ac.abort(new Error('desired file changed'));
    }));
    const err = await waitHealthy({ http: '/health', interval: '1s', timeout: '30s', port, address: '127.0.0.1' }, { signal: ac.signal }).catch((e: unknown) => e);
    expect(isAbortError(err)).toBe(true);
    expect((err as Error).cause).toEqual(new Error('desired file changed'));
    await serverSawClose; // the in-flight request was torn down, not left to time out
  });

  it('aborting kills a running health command (and its children)', async () => {
    const dir = scratch('health-abort');
    const pidFile = join(dir, 'pid');
    const ac = new AbortController();
    const wait = waitHealthy({ exec: ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], interval: '1s', timeout: '30s', port: 1, address: '127.0.0.1' }, { signal: ac.signal });
    const pid = await poll(() => Number(readFileSync(pidFile, 'utf8').trim()) || undefined);
    ac.abort();
    await expect(wait).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(await poll(() => (gone(pid) ? true : undefined))).toBe(true);
  });

  it('an already aborted signal rejects before any try', async () => {
    let tries = 0;
    const err = await waitHealthy({ exec: ['true'], port: 1, address: '127.0.0.1' }, { signal: AbortSignal.abort(), onTry: () => tries++ }).catch((e: unknown) => e);
    expect(isAbortError(err)).toBe(true);
    expect(tries).toBe(0);
  });
});

/** Dead: no such process, or a zombie waiting for init to reap it (which may take a while in containers). */
function gone(pid: number): boolean {
  if (!pidAlive(pid)) return true;
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? false;
  } catch {
    return false;
  }
}

/** Polls `f` every 20 ms (for at most 5 s) until it returns a value. */
async function poll<T>(f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 250; i++) {
    try {
      const v = f();
      if (v !== undefined) return v;
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('gave up polling');
}
