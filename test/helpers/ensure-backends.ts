// Before the tests (vitest globalSetup): the real backends answer, started by scripts/backends.sh where
// this process may (root), else one message that says exactly what to run instead.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { BACKENDS, probeBackend, type Env } from './backends.js';

export interface Missing {
  name: string;
  why: string;
}

/** Tools the tests use besides the four backends (scripts/backends.sh installs them too). */
const TOOLS = ['busybox', 'chromium'] as const;

/** An executable `cmd` on PATH (no spawn: this runs before every test run). */
export function onPath(cmd: string, env: Env = process.env): boolean {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch { /* not here */ }
  }
  return false;
}

/** What does not answer here: each backend asked for real (Docker ping, the user manager's state, tmux, plistutil), tools looked up on PATH. */
export async function missingBackends(env: Env = process.env): Promise<Missing[]> {
  const probes = await Promise.all(BACKENDS.map(async (b) => ({ name: b, status: await probeBackend(b) })));
  const missing: Missing[] = probes.filter((p) => !p.status.ok).map((p) => ({ name: p.name, why: p.status.why ?? 'not available' }));
  for (const t of TOOLS) if (!onPath(t, env)) missing.push({ name: t, why: `${t} is not installed (not on PATH)` });
  return missing;
}

/** Pure: what to tell someone whose backends are missing and who cannot (or could not) set them up here. */
export function cannotSetUpMessage(missing: Missing[], why: string, opts: { root: boolean; apt: boolean; user: string }): string {
  const names = new Set(missing.map((m) => m.name));
  const lines = [
    'tend\'s tests run on the real backends, and these do not answer here:',
    ...missing.map((m) => `  - ${m.name}: ${m.why}`),
    `npm test sets them up with scripts/backends.sh (Debian/Ubuntu: apt-get install, then it starts dockerd and a systemd user manager), but ${why}.`,
  ];
  if (!opts.apt) {
    lines.push(
      'There is no apt-get here: install and start them yourself (a Docker Engine answering on /var/run/docker.sock,',
      'a systemd user manager reachable at /run/user/$(id -u), tmux, plistutil from libplist-utils, busybox, chromium), then run npm test again.',
    );
  } else if (!opts.root) {
    lines.push('Run instead, as root (the backends are set up for the user who runs the tests):', '  sudo "$(command -v npm)" test');
    const own: string[] = [];
    if (names.has('docker')) own.push('  sudo usermod -aG docker ' + opts.user + '     # then log in again: Docker\'s socket for your user');
    if (names.has('systemd')) own.push('  sudo loginctl enable-linger ' + opts.user + '  # a systemd user manager for your user (systemd hosts)');
    lines.push(
      'or set them up for your own user, then run npm test again:',
      '  sudo bash scripts/backends.sh            # installs the packages, starts dockerd',
      ...own,
    );
  } else {
    lines.push('Fix what scripts/backends.sh reported above (its log files are named there), then run npm test again.');
  }
  lines.push('To run the tests anyway, with those needing a missing backend skipped: TEND_BACKENDS_SETUP=0 npx vitest run');
  return lines.join('\n');
}

export interface EnsureOptions {
  /** The checkout (where scripts/backends.sh is). */
  repo: string;
  log: (line: string) => void;
  env?: Env;
  uid?: number;
}

/**
 * Fast check first (everything answers: nothing is run); else, as root, `bash scripts/backends.sh`
 * once (installs and starts what is missing; a no-op for what answers) and checks again; else throws
 * the message saying what to run. TEND_BACKENDS_SETUP=0 skips all of it.
 */
export async function ensureBackends(opts: EnsureOptions): Promise<void> {
  const env = opts.env ?? process.env;
  if (env.TEND_BACKENDS_SETUP === '0') {
    opts.log('backends: not checked (TEND_BACKENDS_SETUP=0); tests that need a missing one skip, or fail under TEND_REQUIRE_BACKENDS=1');
    return;
  }
  const started = Date.now();
  const missing = await missingBackends(env);
  if (missing.length === 0) {
    opts.log(`backends: all answer (${[...BACKENDS, ...TOOLS].join(', ')}; checked in ${Date.now() - started} ms)`);
    return;
  }
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  const facts = { root: uid === 0, apt: onPath('apt-get', env), user: env.USER || env.LOGNAME || String(uid) };
  if (!facts.root) throw new Error(cannotSetUpMessage(missing, `this run is not root (uid ${uid})`, facts));
  opts.log(`backends: ${missing.map((m) => m.name).join(', ')} not answering; running scripts/backends.sh`);
  const r = await execa('bash', [join(opts.repo, 'scripts', 'backends.sh')], {
    cwd: opts.repo, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit', reject: false, timeout: 30 * 60_000,
  });
  const still = await missingBackends(env);
  if (still.length === 0) return;
  const how = r.failed ? `scripts/backends.sh failed (${r.timedOut ? 'timed out' : `exit ${String(r.exitCode)}`})` : 'scripts/backends.sh ran';
  throw new Error(cannotSetUpMessage(still, `${how} and they still do not answer`, facts));
}
