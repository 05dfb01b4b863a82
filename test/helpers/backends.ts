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
// scripts/backends.sh installs and starts them (`npm test` runs it first
// through test/global-setup.ts); .ci/run sets TEND_REQUIRE_BACKENDS=1.
//
// Env: TEND_DOCKER_SOCKET (or DOCKER_HOST=unix://...) overrides the Docker
// socket path; XDG_RUNTIME_DIR (default /run/user/<uid>, as tend's systemd
// driver) finds the user manager: nothing needs exporting. Use userctl() or
// systemdUserEnv() for every `systemctl --user`, never a bare execa.
import { readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { userRuntimeDir } from '../../src/drivers/systemd/command.js';

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
    `(TEND_REQUIRE_BACKENDS is set, so this is a failure; run scripts/backends.sh as root)`
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

/**
 * Env for `systemctl --user` and friends: the user manager found the way tend's systemd driver finds it
 * (XDG_RUNTIME_DIR, default /run/user/<uid>), so a test run from a new shell with nothing exported
 * reaches the same manager as tend.
 */
export function systemdUserEnv(env: Env = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  out.XDG_RUNTIME_DIR = userRuntimeDir(env);
  return out;
}

/** `systemctl --user ARGS` on the manager tend uses (never throws; look at exitCode). */
export function userctl(args: string[], opts: { timeoutMs?: number } = {}) {
  return execa('systemctl', ['--user', ...args], {
    env: systemdUserEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: opts.timeoutMs ?? 60_000,
  });
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

/** Is this backend usable here? Asks it now (no cache). */
export function probeBackend(b: Backend): Promise<BackendStatus> {
  switch (b) {
    case 'docker':
      return dockerAvailable();
    case 'systemd':
      return systemdAvailable();
    case 'tmux':
      return commandAvailable('tmux', ['-V']);
    case 'plistutil':
      return commandAvailable('plistutil', ['--version']);
    default:
      return Promise.resolve({ ok: false, why: `unknown backend ${String(b)}` });
  }
}

/** Is this backend usable here? Cached per process. */
export function backendAvailable(b: Backend): Promise<BackendStatus> {
  let p = cache.get(b);
  if (!p) {
    p = probeBackend(b);
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
 * Stops, disables and removes every user unit in `dir` whose name starts with `prefix` (a test's unique
 * app name), and every loaded unit with that prefix whose file is already gone, then reloads the
 * manager: test clean-up that holds even after a failure. It throws, and keeps the unit files, when a
 * unit could not be stopped (manager unreachable, stop failed, still active): deleting the file of a
 * unit that still runs would leak its process out of sight.
 */
export async function removeUserUnits(dir: string, prefix: string): Promise<void> {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch { /* no unit dir: no files */ }
  const must = async (args: string[]) => {
    const r = await userctl(args);
    if (r.exitCode !== 0) {
      throw new Error(
        `test clean-up: systemctl --user ${args.join(' ')} failed (exit ${String(r.exitCode)}): ` +
        `${String(r.stderr || r.stdout || r.shortMessage).trim()}; unit files left in ${dir}` +
        ` (XDG_RUNTIME_DIR=${systemdUserEnv().XDG_RUNTIME_DIR})`,
      );
    }
    return String(r.stdout);
  };
  // Every file known to the manager first, so a unit written without a reload is seen too.
  await must(['daemon-reload']);
  const listed = await must(['list-units', '--all', '--plain', '--no-legend', '--', `${prefix}*`]);
  const loaded = listed.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((u) => u.startsWith(prefix));
  const units = [...new Set([...files, ...loaded])];
  if (units.length === 0) return;
  if (loaded.length > 0) await must(['stop', '--', ...loaded]);
  const states = loaded.length === 0 ? '' : await must(['show', '-p', 'Id', '-p', 'ActiveState', '--', ...loaded]);
  const running = states.split('\n\n').filter((b) => /ActiveState=(active|activating|deactivating|reloading)/.test(b));
  if (running.length > 0) {
    throw new Error(`test clean-up: still running after stop: ${running.map((b) => b.replace(/\n/g, ' ')).join('; ')}; unit files left in ${dir}`);
  }
  if (files.length > 0) await must(['disable', '--no-reload', '--', ...files]);
  for (const u of files) rmSync(join(dir, u), { force: true });
  await must(['daemon-reload']);
  // Forget failed states (a unit that is not failed or not loaded any more is not an error here).
  await userctl(['reset-failed', '--', ...units]);
}
