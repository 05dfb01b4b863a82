// Which real backends (Docker engine, systemd user manager, tmux, plistutil)
// this machine offers, and what a test should do when one is missing.
//
// Pattern for every backend test:
//
//   const docker = await backendGate('docker');
//   describe.skipIf(docker.skip)('docker driver', () => {
//     it('...', async () => {
//       docker.check(); // throws "backend docker is not available: ..." when required
//       ...
//     });
//   });
//
// - backend present                          -> the test runs
// - missing, TEND_REQUIRE_BACKENDS unset/'0' -> the test is skipped
// - missing, TEND_REQUIRE_BACKENDS=1 (CI)    -> the test runs and FAILS, naming
//                                               the missing backend
//
// scripts/backends.sh installs and starts them; .ci/run sets
// TEND_REQUIRE_BACKENDS=1 and XDG_RUNTIME_DIR.
//
// Env: TEND_DOCKER_SOCKET (or DOCKER_HOST=unix://...) overrides the Docker
// socket path; XDG_RUNTIME_DIR (default /run/user/<uid>) finds the user manager.
import { readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';

export type Backend = 'docker' | 'systemd' | 'tmux' | 'plistutil';
export const BACKENDS: readonly Backend[] = ['docker', 'systemd', 'tmux', 'plistutil'];

export interface BackendStatus {
  ok: boolean;
  why?: string;
}

export type Env = Record<string, string | undefined>;

/** TEND_REQUIRE_BACKENDS is set and is not '0' (nor empty or 'false'). */
export function requireBackends(env: Env = process.env): boolean {
  const v = env.TEND_REQUIRE_BACKENDS;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export type Decision = 'run' | 'skip' | 'fail';

/** Pure: what a test does given a backend's status and whether backends are required. */
export function decide(status: BackendStatus, required: boolean): Decision {
  if (status.ok) return 'run';
  return required ? 'fail' : 'skip';
}

export function missingBackendMessage(backend: Backend, status: BackendStatus): string {
  return (
    `backend ${backend} is not available: ${status.why ?? 'unknown reason'} ` +
    `(TEND_REQUIRE_BACKENDS is set, so this is a failure; run scripts/backends.sh ` +
    `and export XDG_RUNTIME_DIR=/run/user/$(id -u))`
  );
}

// ------------------------------------------------------------------ docker --

export function dockerSocketPath(env: Env = process.env): string {
  if (env.TEND_DOCKER_SOCKET) return env.TEND_DOCKER_SOCKET;
  const host = env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  return '/var/run/docker.sock';
}

export interface DockerResponse {
  statusCode: number;
  body: string;
}

/** One HTTP request to the Docker engine API over its unix socket. */
export function dockerRequest(
  path: string,
  opts: { socketPath?: string; method?: string; timeoutMs?: number } = {},
): Promise<DockerResponse> {
  const socketPath = opts.socketPath ?? dockerSocketPath();
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: opts.method ?? 'GET', headers: { Host: 'docker' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 5000, () => {
      req.destroy(new Error(`timed out after ${opts.timeoutMs ?? 5000} ms talking to ${socketPath}`));
    });
    req.on('error', reject);
    req.end();
  });
}

async function dockerAvailable(): Promise<BackendStatus> {
  const socketPath = dockerSocketPath();
  try {
    const res = await dockerRequest('/_ping', { socketPath, timeoutMs: 3000 });
    if (res.statusCode === 200 && res.body.trim() === 'OK') return { ok: true };
    return { ok: false, why: `GET /_ping on ${socketPath} answered ${res.statusCode} ${res.body.trim()}` };
  } catch (e) {
    return { ok: false, why: `no Docker engine on ${socketPath}: ${(e as Error).message}` };
  }
}

// ----------------------------------------------------------------- systemd --

/** Env for `systemctl --user` and friends: XDG_RUNTIME_DIR defaulted to /run/user/<uid>. */
export function systemdUserEnv(env: Env = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  if (!out.XDG_RUNTIME_DIR) out.XDG_RUNTIME_DIR = `/run/user/${process.getuid?.() ?? 0}`;
  return out;
}

async function systemdAvailable(): Promise<BackendStatus> {
  const env = systemdUserEnv();
  const r = await execa('systemctl', ['--user', 'show', '-p', 'SystemState', '--value'], {
    env,
    extendEnv: false,
    reject: false,
    timeout: 10_000,
  });
  const state = String(r.stdout ?? '').trim();
  if (!r.failed && (state === 'running' || state === 'degraded')) return { ok: true };
  const detail = r.failed ? String(r.stderr || r.shortMessage || '').trim() : `state '${state}'`;
  return {
    ok: false,
    why: `no systemd user manager (XDG_RUNTIME_DIR=${env.XDG_RUNTIME_DIR}): ${detail}`,
  };
}

// ------------------------------------------------------- tmux, plistutil --

async function commandAvailable(cmd: string, args: string[]): Promise<BackendStatus> {
  const r = await execa(cmd, args, { reject: false, timeout: 10_000, stdin: 'ignore' });
  if (!r.failed) return { ok: true };
  const err = (r as { code?: string }).code;
  if (err === 'ENOENT') return { ok: false, why: `${cmd} is not installed (not on PATH)` };
  return { ok: false, why: `${cmd} ${args.join(' ')} failed: ${r.shortMessage}` };
}

// -------------------------------------------------------------------- api --

const cache = new Map<Backend, Promise<BackendStatus>>();

/** Is this backend usable here? Cached per process. */
export function backendAvailable(b: Backend): Promise<BackendStatus> {
  let p = cache.get(b);
  if (!p) {
    switch (b) {
      case 'docker':
        p = dockerAvailable();
        break;
      case 'systemd':
        p = systemdAvailable();
        break;
      case 'tmux':
        p = commandAvailable('tmux', ['-V']);
        break;
      case 'plistutil':
        p = commandAvailable('plistutil', ['--version']);
        break;
      default:
        p = Promise.resolve({ ok: false, why: `unknown backend ${String(b)}` });
    }
    cache.set(b, p);
  }
  return p;
}

export interface BackendGate {
  backend: Backend;
  status: BackendStatus;
  required: boolean;
  decision: Decision;
  /** Pass to it.skipIf / describe.skipIf. */
  skip: boolean;
  /** Call first thing in each test: throws (fails the test) when the backend is missing. */
  check(): void;
}

export function makeGate(backend: Backend, status: BackendStatus, required: boolean): BackendGate {
  const decision = decide(status, required);
  return {
    backend,
    status,
    required,
    decision,
    skip: decision === 'skip',
    check() {
      if (!status.ok) throw new Error(missingBackendMessage(backend, status));
    },
  };
}

/** Probe a backend and decide run / skip / fail for the tests that need it. */
export async function backendGate(b: Backend, env: Env = process.env): Promise<BackendGate> {
  return makeGate(b, await backendAvailable(b), requireBackends(env));
}

/**
 * Stops, disables and removes every user unit in `dir` whose file name starts with `prefix` (a test's
 * unique app name), then reloads the manager: test clean-up that holds even after a failure.
 */
export async function removeUserUnits(dir: string, prefix: string): Promise<void> {
  let units: string[] = [];
  try {
    units = readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch { /* no unit dir: nothing to remove */ }
  if (units.length === 0) return;
  const userctl = (args: string[]) => execa('systemctl', ['--user', ...args], { reject: false, stdin: 'ignore' });
  await userctl(['stop', '--', ...units]);
  await userctl(['disable', '--no-reload', '--', ...units]);
  for (const u of units) rmSync(join(dir, u), { force: true });
  await userctl(['daemon-reload']);
  await userctl(['reset-failed', '--', ...units]);
}
