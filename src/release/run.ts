// Runs the build command in the clone (argument array, no shell), contained, and streams its output into build.log.
import { accessSync, constants, existsSync, statSync, writeSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { execa } from 'execa';
import { splitCommand } from '../shared/command.js';
import { buildContainment, containmentWarning, type Containment } from './contain.js';
import { cleanEnv } from './source.js';
import { errorMessage, TendError } from '../shared/errors.js';

export type RunFailure = 'exit' | 'timeout' | 'aborted' | 'spawn';

/** The build command failed; a non-zero exit or an abort is terminal (the same commit builds the same), a timeout or spawn failure may pass. */
export class RunError extends TendError {
  constructor(message: string, readonly failure: RunFailure, readonly exitCode?: number) {
    super(message, { retryable: failure === 'timeout' || failure === 'spawn' });
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
  /** Told when the build runs uncontained (also written to build.log). */
  onWarning?: (message: string) => void;
  /** How to contain the build's processes; probed once per process by default. */
  containment?: Containment;
}

/** Kills the build: the whole process group, or the contained build's unshare (which takes its namespace along). */
function kill(pid: number | undefined, group: boolean): void {
  if (pid === undefined) return;
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const executable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    // missing or not executable
    return false;
  }
};

/** The build command as an absolute path: a path inside the checked-out tag, or a bare name found on the build's PATH. */
function resolveCommand(cmd: string, cwd: string, env: Record<string, string>): string {
  if (cmd.includes('/')) {
    const file = resolve(cwd, cmd);
    if (!existsSync(file)) throw new RunError(`build command ${cmd} does not exist in the checked-out tag`, 'spawn');
    if (!executable(file)) throw new RunError(`cannot run build command ${cmd}: not executable (chmod +x)`, 'spawn');
    return file;
  }
  const found = (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, cmd)).find(executable);
  if (!found) throw new RunError(`cannot run build command ${cmd}: not found`, 'spawn');
  return found;
}

/** Runs the build to completion; throws RunError on a non-zero exit, timeout or abort. Nothing it started outlives it. */
export async function runBuildCommand(opts: RunOptions): Promise<void> {
  let argv: string[];
  try {
    argv = splitCommand(opts.command);
  } catch (err) {
    throw new RunError(errorMessage(err), 'spawn');
  }
  const [cmd, ...args] = argv;
  const env = cleanEnv(opts.env);
  const file = resolveCommand(cmd!, opts.cwd, env);
  const contain = opts.containment ?? await buildContainment();
  const contained = contain.kind === 'pid-namespace';
  if (!contained) {
    const warning = containmentWarning(contain);
    writeSync(opts.logFd, `# tend: warning: ${warning}\n`);
    opts.onWarning?.(warning);
  }
  const [runFile, ...runArgs] = contained ? [...contain.wrapper, file, ...args] : [file, ...args];
  const sub = execa(runFile!, runArgs, {
    cwd: opts.cwd,
    env,
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    // Its own process group: a Ctrl-C on the terminal reaches tend (which aborts), not the build directly.
    detached: true,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    // unshare ignores SIGTERM; SIGKILL ends it, its child (PID 1 of the namespace) and so the whole namespace.
    ...(contained ? { killSignal: 'SIGKILL' as const, forceKillAfterDelay: false as const } : { forceKillAfterDelay: 5_000 }),
    reject: false,
  });
  // Uncontained, the group is killed as soon as the build exits (what it left would hold build.log's pipe open).
  const onExit = () => kill(sub.pid, !contained);
  process.once('exit', onExit);
  if (!contained) sub.once('exit', onExit);
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
      throw new RunError(`cannot run build command ${contained ? runFile : cmd}: ${code === 'EACCES' ? 'not executable (chmod +x)' : 'not found'}`, 'spawn');
    }
    if (r.exitCode !== undefined && r.exitCode !== 0) throw new RunError(`build failed with exit code ${r.exitCode}`, 'exit', r.exitCode);
    if (r.failed) throw new RunError(`build failed: ${r.signal ? `killed by ${r.signal}` : r.shortMessage}`, 'exit');
  } finally {
    process.removeListener('exit', onExit);
    // Contained, the build has been reaped by now (its PID may be reused): only a group needs a last kill.
    if (!contained) kill(sub.pid, true);
  }
}
