// Timing a command as a real process, and counting the processes it spawns (strace, else PATH shims).
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';

export interface RunResult {
  ms: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs `cmd args` to the end and returns its wall time (spawn to exit) and output. */
export async function timed(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const start = performance.now();
  const r = await execa(cmd, args, {
    reject: false, stdin: 'ignore', env: opts.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000,
  });
  const ms = performance.now() - start;
  return { ms, exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Like timed(), but throws (with the output) unless the exit code is one of `ok`. */
export async function timedOk(cmd: string, args: string[], opts: RunOptions & { ok?: number[] } = {}): Promise<RunResult> {
  const r = await timed(cmd, args, opts);
  if (!(opts.ok ?? [0]).includes(r.exitCode)) {
    throw new Error(`${basename(cmd)} ${args.join(' ')} exited ${r.exitCode}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  }
  return r;
}

export interface SpawnCount {
  method: 'strace' | 'path shims';
  /** Processes started below the command (its own exec not counted). */
  total: number;
  /** The same, by program name. */
  byProgram: Record<string, number>;
  exitCode: number;
}

let straceOk: boolean | undefined;
export async function haveStrace(): Promise<boolean> {
  straceOk ??= (await execa('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', '/dev/null', 'true'], { reject: false })).exitCode === 0;
  return straceOk;
}

/** Successful execve calls in an `strace -f -z -e trace=execve` log, the first one (the command itself) left out. */
export function parseStrace(log: string): { total: number; byProgram: Record<string, number> } {
  const programs: string[] = [];
  for (const line of log.split('\n')) {
    const m = /execve\("([^"]+)"/.exec(line);
    if (m && /\)\s+=\s+0\s*$/.test(line)) programs.push(basename(m[1]!));
  }
  const byProgram: Record<string, number> = {};
  for (const p of programs.slice(1)) byProgram[p] = (byProgram[p] ?? 0) + 1;
  return { total: Math.max(0, programs.length - 1), byProgram };
}

/** Programs the PATH-shim fallback counts (what tend may start). */
export const SHIMMED = ['git', 'systemctl', 'loginctl', 'tmux', 'docker', 'launchctl', 'ps', 'sh', 'bash'];

/**
 * Counts the processes `cmd args` starts: `strace -f` when it works (every exec below the command),
 * else PATH shims in front of SHIMMED (only those programs, and only when found through PATH).
 */
export async function countSpawns(dir: string, cmd: string, args: string[], opts: RunOptions = {}): Promise<SpawnCount> {
  mkdirSync(dir, { recursive: true });
  if (await haveStrace()) {
    const log = join(dir, 'strace.log');
    const r = await timed('strace', ['-f', '-qq', '-z', '-e', 'trace=execve', '-e', 'signal=none', '-o', log, cmd, ...args], opts);
    return { method: 'strace', ...parseStrace(readFileSync(log, 'utf8')), exitCode: r.exitCode };
  }
  const bin = join(dir, 'shims');
  const calls = join(dir, 'calls.log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(calls, '');
  const path = opts.env?.PATH ?? process.env.PATH ?? '';
  for (const prog of SHIMMED) {
    const real = (await execa('sh', ['-c', `command -v ${prog} || true`], { env: { PATH: path } })).stdout.trim();
    if (!real) continue;
    writeFileSync(join(bin, prog), `#!/bin/sh\necho ${prog} >> '${calls}'\nexec '${real}' "$@"\n`);
    chmodSync(join(bin, prog), 0o755);
  }
  const r = await timed(cmd, args, { ...opts, env: { ...process.env, ...opts.env, PATH: `${bin}:${path}` } });
  const byProgram: Record<string, number> = {};
  const lines = readFileSync(calls, 'utf8').split('\n').filter(Boolean);
  for (const p of lines) byProgram[p] = (byProgram[p] ?? 0) + 1;
  return { method: 'path shims', total: lines.length, byProgram, exitCode: r.exitCode };
}

export function programsText(byProgram: Record<string, number>): string {
  const e = Object.entries(byProgram).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return e.length === 0 ? 'none' : e.map(([p, n]) => `${p} ${n}`).join(', ');
}
