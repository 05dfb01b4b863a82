// Helpers for the demo (demo.mjs): running commands with their output shown, choosing the runtime,
// and sweeping away whatever the demo's app left in that runtime.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
export const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
export const dim = (s) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
export const say = (s = '') => process.stdout.write(`${s}\n`);

/** The child running now, so a signal can be passed on to it (by its PID only). */
export const running = { child: undefined };

/**
 * Runs cmd with args (no shell) in its own process group, so Ctrl-C reaches only the demo, which decides.
 * show: print the output as it comes, indented. echo: the command line printed before it (`$ ...`).
 * Resolves {code, out, error}; never rejects.
 */
export function run(cmd, args, { env = process.env, cwd, show = true, echo, timeoutMs = 180_000 } = {}) {
  if (echo) say(bold(`$ ${echo}`));
  return new Promise((resolve) => {
    let out = '';
    let pending = '';
    let done = false;
    const child = spawn(cmd, args, { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running.child = child;
    const print = (text) => {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const l of lines) process.stdout.write(`  ${l}\n`);
    };
    const onData = (text) => {
      out += text;
      if (show) print(text);
    };
    for (const stream of [child.stdout, child.stderr]) stream.setEncoding('utf8').on('data', onData);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      signal(child, 'SIGTERM');
      setTimeout(() => signal(child, 'SIGKILL'), 5000).unref();
    }, timeoutMs);
    const finish = (result) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (running.child === child) running.child = undefined;
      if (show && pending) print('\n');
      resolve({ out, ...result, ...(timedOut ? { code: -1, error: new Error(`timed out after ${timeoutMs / 1000} s`) } : {}) });
    };
    child.on('error', (error) => finish({ code: -1, error }));
    child.on('close', (code, sig) => finish({ code: code ?? -1, ...(sig ? { error: new Error(`killed by ${sig}`) } : {}) }));
  });
}

/** Sends a signal to one child we started, by its PID; quiet when it is gone. */
export function signal(child, sig) {
  try {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, sig);
  } catch {
    // already gone
  }
}

const firstLine = (r) => (r.error?.code === 'ENOENT' ? 'not installed' : (r.out.trim().split('\n')[0] || r.error?.message || `exit ${r.code}`));

// ------------------------------------------------------------------------------- runtimes --

const probes = {
  async systemd(env) {
    const r = await run('systemctl', ['--user', 'show', '-p', 'SystemState', '--value'], { env, show: false, timeoutMs: 15_000 });
    const state = r.out.trim();
    if (r.code === 0 && (state === 'running' || state === 'degraded')) return { ok: true, why: `the systemd user manager answers (${state})` };
    if (r.error?.code === 'ENOENT') return { ok: false, why: 'systemctl is not installed' };
    return { ok: false, why: `no systemd user manager answers (systemctl --user, XDG_RUNTIME_DIR=${env.XDG_RUNTIME_DIR}): ${r.code === 0 ? `state '${state}'` : firstLine(r)}` };
  },
  async tmux(env) {
    const r = await run('tmux', ['-V'], { env, show: false, timeoutMs: 15_000 });
    return r.code === 0 ? { ok: true, why: `${r.out.trim()} is installed` } : { ok: false, why: r.error?.code === 'ENOENT' ? 'tmux is not installed' : `tmux -V: ${firstLine(r)}` };
  },
  async docker(env) {
    const r = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env, show: false, timeoutMs: 20_000 });
    if (r.code === 0) return { ok: true, why: `the Docker Engine ${r.out.trim()} answers` };
    if (r.error?.code === 'ENOENT') return { ok: false, why: 'the docker command is not installed' };
    return { ok: false, why: `no Docker Engine answers: ${firstLine(r)}` };
  },
};

/** apt-get install tmux (as root, where apt-get exists); lists are refreshed when the first try fails. */
async function installTmux(env) {
  if ((await run('apt-get', ['--version'], { env, show: false })).code !== 0) return { ok: false, why: 'apt-get is not available to install tmux' };
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => run('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'tmux'], { env: aptEnv, echo: 'apt-get install -y tmux', timeoutMs: 600_000 });
  let r = await install();
  if (r.code !== 0) {
    await run('apt-get', ['update', '-q'], { env: aptEnv, echo: 'apt-get update', timeoutMs: 600_000 });
    r = await install();
  }
  if (r.code !== 0) return { ok: false, why: `apt-get install tmux failed (exit ${r.code})` };
  const probe = await probes.tmux(env);
  return probe.ok ? { ok: true, why: `tmux installed from Debian's packages (apt-get remove tmux takes it away again)` } : probe;
}

/**
 * The best runtime here: systemd user manager, else tmux, else the Docker Engine, else tmux installed
 * with apt-get (as root). `forced` (TEND_DEMO_RUNTIME) tries only that one. Returns {runtime, why} or
 * {missing: [reasons]}.
 */
export async function pickRuntime(env, forced) {
  const order = forced ? [forced] : ['systemd', 'tmux', 'docker'];
  const missing = [];
  for (const runtime of order) {
    const probe = await probes[runtime](env);
    if (probe.ok) return { runtime, why: probe.why };
    missing.push(`${runtime}: ${probe.why}`);
  }
  if (order.includes('tmux')) {
    if (process.getuid?.() !== 0) {
      missing.push('not root, so tmux is not installed for you (as root: apt-get install tmux)');
    } else {
      say(`No runtime found (${missing.join('; ')}): installing tmux from Debian's packages.`);
      const probe = await installTmux(env);
      if (probe.ok) return { runtime: 'tmux', why: probe.why };
      missing.push(probe.why);
    }
  }
  return { missing };
}

// ---------------------------------------------------------------------------------- sweep --

export function userUnitDir(env) {
  const config = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(config, 'systemd', 'user');
}

/** Where `tmux -L name` keeps its socket. */
export const tmuxSocket = (name, env) => join(env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, name);

const ls = (dir, keep) => {
  try {
    return readdirSync(dir).filter(keep);
  } catch {
    return [];
  }
};
const words = (out) => out.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);

/** What the app still has in the runtime: a list of things, each `kind name`. */
export async function leftovers(runtime, app, env) {
  const mine = (f) => f.startsWith(`${app}-`);
  if (runtime === 'systemd') {
    const dir = userUnitDir(env);
    const r = await run('systemctl', ['--user', 'list-units', '--all', '--plain', '--no-legend', `${app}-*`], { env, show: false });
    const units = new Set([...words(r.out).filter(mine), ...ls(dir, mine), ...ls(join(dir, 'default.target.wants'), mine)]);
    return [...units].map((u) => `unit ${u}`);
  }
  if (runtime === 'tmux') {
    const r = await run('tmux', ['-L', app, 'list-sessions', '-F', '#{session_name}'], { env, show: false });
    // A server answers (tend sets exit-empty off, so it outlives its last session): its sessions, then itself.
    const server = r.code === 0 ? [...words(r.out).map((s) => `tmux session ${s}`), `tmux server (socket ${app})`] : [];
    return [...server, ...(existsSync(tmuxSocket(app, env)) ? [`tmux socket ${tmuxSocket(app, env)}`] : [])];
  }
  const c = await run('docker', ['ps', '-a', '--format', '{{.Names}}', '--filter', `label=tend.app=${app}`], { env, show: false });
  const images = new Map();
  for (const filter of [`reference=${app}`, `label=tend.demo=${app}`]) {
    const r = await run('docker', ['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}', '--filter', filter], { env, show: false });
    for (const [id, name] of r.out.split('\n').map((l) => l.trim().split(' ')).filter((w) => w[0])) {
      images.set(id, [...(images.get(id) ?? []), ...(name && !name.includes('<none>') ? [name] : [])]);
    }
  }
  return [...words(c.out).map((n) => `container ${n}`), ...[...images].map(([id, n]) => `image ${id}${n.length ? ` (${n.join(', ')})` : ''}`)];
}

/** Removes what leftovers() lists, showing the runtime's own commands. */
export async function sweep(runtime, app, env) {
  const found = await leftovers(runtime, app, env);
  const names = (kind) => found.filter((f) => f.startsWith(`${kind} `)).map((f) => f.split(' ')[1]);
  if (found.length === 0) return found;
  if (runtime === 'systemd') {
    const units = names('unit');
    const dir = userUnitDir(env);
    await run('systemctl', ['--user', 'stop', ...units], { env, echo: `systemctl --user stop ${units.join(' ')}` });
    await run('systemctl', ['--user', 'disable', ...units], { env, echo: `systemctl --user disable ${units.join(' ')}` });
    for (const u of units) {
      for (const f of [join(dir, u), join(dir, 'default.target.wants', u)]) rmSync(f, { force: true, recursive: true });
    }
    say(bold(`$ rm ${units.map((u) => join(dir, u)).join(' ')}`));
    await run('systemctl', ['--user', 'daemon-reload'], { env, echo: 'systemctl --user daemon-reload' });
    await run('systemctl', ['--user', 'reset-failed', ...units], { env, show: false });
  } else if (runtime === 'tmux') {
    if (found.some((f) => f.startsWith('tmux server'))) await run('tmux', ['-L', app, 'kill-server'], { env, echo: `tmux -L ${app} kill-server` });
    // The server leaves its socket file behind; removed once no server answers on it.
    await sleep(200);
    if ((await run('tmux', ['-L', app, 'list-sessions'], { env, show: false })).code !== 0) rmSync(tmuxSocket(app, env), { force: true });
  } else {
    const containers = names('container');
    if (containers.length) await run('docker', ['rm', '-f', ...containers], { env, echo: `docker rm -f ${containers.join(' ')}` });
    const images = names('image');
    if (images.length) await run('docker', ['image', 'rm', '-f', ...images], { env, show: false, echo: `docker image rm -f ${images.join(' ')}` });
  }
  await sleep(200);
  return found;
}
