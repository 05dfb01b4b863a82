// Runs the build command in the clone (argument array, no shell) and streams its output into build.log.
import { existsSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { splitCommand } from './command.js';
import { cleanEnv } from './source.js';

export type RunFailure = 'exit' | 'timeout' | 'aborted' | 'spawn';

export class RunError extends Error {
  constructor(message: string, readonly failure: RunFailure, readonly exitCode?: number) {
    super(message);
    this.name = 'RunError';
  }
}

export interface RunOptions {
  command: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** Open file descriptor of build.log: stdout and stderr both go there. */
  logFd: number;
  signal?: AbortSignal;
  onOutput?: (chunk: string) => void;
}

/** Kills a whole process group (the build and whatever it started); quiet when it is gone. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Runs the build to completion; throws RunError on a non-zero exit, timeout or abort. */
export async function runBuildCommand(opts: RunOptions): Promise<void> {
  let argv: string[];
  try {
    argv = splitCommand(opts.command);
  } catch (err) {
    throw new RunError((err as Error).message, 'spawn');
  }
  const [cmd, ...args] = argv;
  // A command with a slash is a path inside the checked-out tag; a bare name is looked up on PATH.
  const file = cmd!.includes('/') ? resolve(opts.cwd, cmd!) : cmd!;
  if (cmd!.includes('/') && !existsSync(file)) throw new RunError(`build command ${cmd} does not exist in the checked-out tag`, 'spawn');
  const sub = execa(file, args, {
    cwd: opts.cwd,
    env: cleanEnv(opts.env),
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    // Its own process group, so a timeout or abort also ends what the build started.
    detached: true,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 5_000,
    reject: false,
  });
  const onExit = () => killGroup(sub.pid);
  process.once('exit', onExit);
  sub.once('exit', onExit);
  sub.all?.on('data', (chunk: Buffer) => {
    writeSync(opts.logFd, chunk);
    opts.onOutput?.(chunk.toString('utf8'));
  });
  try {
    const r = await sub;
    if (r.timedOut) throw new RunError(`build timed out after ${Math.round(opts.timeoutMs / 1000)}s`, 'timeout');
    if (r.isCanceled || opts.signal?.aborted) throw new RunError('build was interrupted', 'aborted');
    const code = (r as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EACCES') {
      throw new RunError(`cannot run build command ${cmd}: ${code === 'EACCES' ? 'not executable (chmod +x)' : 'not found'}`, 'spawn');
    }
    if (r.exitCode !== undefined && r.exitCode !== 0) throw new RunError(`build failed with exit code ${r.exitCode}`, 'exit', r.exitCode);
    if (r.failed) throw new RunError(`build failed: ${r.signal ? `killed by ${r.signal}` : r.shortMessage}`, 'exit');
  } finally {
    process.removeListener('exit', onExit);
    killGroup(sub.pid);
  }
}
