// The launchctl stand-in for tests on hosts without launchd: a PATH folder whose `launchctl` records
// every call, replays captured output, and otherwise acts as a tiny launchd (launchctl-standin.mjs).
//
//   const lc = useLaunchctlStandin(scratch, { uid: 501 });   // jobs are killed after the file's tests
//   await lc.onPath(() => driver.apply(action, ctx));         // or prepend lc.binDir to PATH yourself
//   expect(lc.callsSince(n)).toEqual([['print', 'gui/501/dev.tend.oubliette-web'], ...]);
//
// - `binDir`: holds `launchctl` (the stand-in, its state folder baked in) and, for each name in
//   `record` (default `ps`), a shim that logs the call and runs the real command. Every shim appends
//   one line to `spawns.log`, so `spawns()` counts the processes an observe started at the boundary.
// - `calls()`: launchctl's argv per call, in order (from the stand-in's calls.jsonl).
// - `replay([{argv, stdout, stderr, code}])`: a call with exactly that argv answers with the captured
//   output and changes nothing; other calls are emulated.
// - `legacy(true)`: answers like launchctl before OS X 10.10 (no bootstrap/bootout/print/...).
// - `uid`: the caller the stand-in believes it serves (TEND_LAUNCHCTL_UID): `list` shows `system` for
//   uid 0, `gui/<uid>` otherwise, and only those domains may be changed.
// - `stop()`: SIGKILLs every job's process group (also run after the file's tests by use...()).
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll } from 'vitest';

export const STANDIN_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'launchctl-standin.mjs');

export interface ReplayEntry {
  argv: string[];
  stdout?: string;
  stderr?: string;
  code?: number;
}

export interface LaunchctlStandin {
  binDir: string;
  stateDir: string;
  /** launchctl argv of every call so far. */
  calls(): string[][];
  /** The calls after the first `from` (use with `calls().length` taken before). */
  callsSince(from: number): string[][];
  /** Every process the shims saw start (launchctl and recorded commands), one `name args` line each. */
  spawns(): string[];
  replay(entries: ReplayEntry[]): void;
  legacy(on: boolean): void;
  /** Runs `fn` with binDir first on PATH (restored afterwards). */
  onPath<T>(fn: () => Promise<T>): Promise<T>;
  /** Runs the stand-in directly (set-up and inspection in tests; recorded like any call). */
  launchctl(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Pid of a loaded job's running program, if it runs. */
  pidOf(domain: string, label: string): number | undefined;
  stop(): Promise<void>;
}

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

export function launchctlStandin(dir: string, opts: { uid?: number; record?: string[] } = {}): LaunchctlStandin {
  const binDir = join(dir, 'bin');
  const stateDir = join(dir, 'state');
  mkdirSync(binDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  const spawnLog = join(stateDir, 'spawns.log');
  writeFileSync(spawnLog, '');
  writeFileSync(join(stateDir, 'calls.jsonl'), '');
  const log = (name: string) => `printf '%s\\n' "${name} $*" >> ${q(spawnLog)}\n`;
  const uidEnv = opts.uid !== undefined ? `TEND_LAUNCHCTL_UID=${opts.uid} ` : '';
  writeFileSync(join(binDir, 'launchctl'),
    `#!/bin/sh\n${log('launchctl')}TEND_LAUNCHCTL_STATE=${q(stateDir)} ${uidEnv}exec ${q(process.execPath)} ${q(STANDIN_SCRIPT)} "$@"\n`);
  chmodSync(join(binDir, 'launchctl'), 0o755);
  for (const name of opts.record ?? ['ps']) {
    const real = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => join(d, name)).find((p) => existsSync(p));
    if (!real) throw new Error(`cannot record ${name}: not found in /usr/bin:/bin:/usr/sbin:/sbin`);
    writeFileSync(join(binDir, name), `#!/bin/sh\n${log(name)}exec ${q(real)} "$@"\n`);
    chmodSync(join(binDir, name), 0o755);
  }
  const calls = () => readFileSync(join(stateDir, 'calls.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  const jobDir = (domain: string, label: string) => join(stateDir, 'jobs', domain.replaceAll('/', '_'), label);
  const readInt = (f: string) => {
    try {
      const n = Number(readFileSync(f, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    binDir,
    stateDir,
    calls,
    callsSince: (from) => calls().slice(from),
    spawns: () => readFileSync(spawnLog, 'utf8').split('\n').filter(Boolean),
    replay: (entries) => writeFileSync(join(stateDir, 'replay.json'), JSON.stringify(entries)),
    legacy: (on) => (on ? writeFileSync(join(stateDir, 'legacy'), '') : rmSync(join(stateDir, 'legacy'), { force: true })),
    async onPath(fn) {
      const saved = process.env.PATH;
      process.env.PATH = `${binDir}:${saved ?? ''}`;
      try {
        return await fn();
      } finally {
        process.env.PATH = saved;
      }
    },
    async launchctl(args) {
      const r = await execa(join(binDir, 'launchctl'), args, { reject: false, stdin: 'ignore' });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    pidOf(domain, label) {
      const d = jobDir(domain, label);
      const pid = readInt(join(d, 'pid'));
      return pid !== undefined && !existsSync(join(d, 'exit')) && alive(pid) ? pid : undefined;
    },
    async stop() {
      const root = join(stateDir, 'jobs');
      if (!existsSync(root)) return;
      for (const domain of readdirSync(root)) {
        for (const label of readdirSync(join(root, domain))) {
          const d = join(root, domain, label);
          for (const target of [readInt(join(d, 'pid')), -(readInt(join(d, 'group')) ?? 0)]) {
            if (target === undefined || target === 0) continue;
            try {
              process.kill(target, 'SIGKILL');
            } catch {
              // Gone already.
            }
          }
        }
      }
    },
  };
}

/** launchctlStandin in a fresh scratch folder, whose jobs are killed after the file's tests (even failed ones). */
export function useLaunchctlStandin(scratch: (prefix: string) => string, opts: { uid?: number; record?: string[] } = {}): LaunchctlStandin {
  const lc = launchctlStandin(scratch('launchctl'), opts);
  afterAll(() => lc.stop());
  return lc;
}
