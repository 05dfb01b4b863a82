// `tend logs <name>`: where an instance's output goes, by runtime, and printing it (--tail, --since,
// --follow, --timestamps): journalctl for units logging to the journal, `docker logs` (Engine API, with
// the Engine's time of each line) for containers, else the files under instances/<name>/logs/, whose
// lines tend's stamper prefixed with the time they were written.
import { existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { connect } from '../drivers/docker/engine.js';
import type { Runtime } from '../model/types.js';
import { targetName } from '../spec/names.js';
import { findEntry, reloadDesired, type Project } from './edit.js';
import { OpsError } from './guard.js';
import { followFile, LineRewriter, logFiles, readLogLines, unstamped } from './log-files.js';
import { errorMessage } from '../shared/errors.js';

export type LogSource =
  | { kind: 'journal'; unit: string; scope: 'system' | 'user' }
  | { kind: 'docker'; container: string }
  /** `files`: oldest first; `live` is the file the process appends to. */
  | { kind: 'files'; live: string; files: string[] };

export interface LogsOptions {
  /** Only the last N lines. */
  tail?: number;
  /** Only what was logged at or after this time (see parseSince). */
  since?: Date;
  /** Keep printing what is logged until `signal` aborts (or the container stops). */
  follow?: boolean;
  signal?: AbortSignal;
  /** Follow polling interval for log files (default 250 ms). */
  pollMs?: number;
  /** Each line's time first (`2026-01-02T03:04:05.678Z line`; the journal: journalctl's own format); default true. */
  timestamps?: boolean;
}

/** Where `instanceLogs` writes: the caller's streams (the CLI passes its own stdout and stderr). */
export interface LogsStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const SPAN_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `--since`: a duration back from `now` (`10m`, `1h30m`, `2d`) or a date/time (`2026-01-02T03:04:05Z`, `2026-01-02`). */
export function parseSince(text: string, now: Date = new Date()): Date {
  const t = text.trim();
  if (/^(\d+(ms|s|m|h|d))+$/.test(t)) {
    let ms = 0;
    for (const m of t.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(m[1]) * SPAN_MS[m[2] as keyof typeof SPAN_MS];
    return new Date(now.getTime() - ms);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const at = Date.parse(t);
    if (!Number.isNaN(at)) return new Date(at);
  }
  throw new OpsError(`--since ${text}: not a duration (10m, 2h, 1d) or a date/time (2026-01-02T15:04:05Z)`, 'invalid');
}

/** Where the output of `name` goes, from its desired runtime (a file that does not validate: its log files). */
export function logSourceOf(project: Project, name: string): LogSource {
  const entry = findEntry(reloadDesired(project), name);
  const config = project.desired.config;
  const live = join(project.paths.instances, name, 'logs', `${name}.log`);
  const runtime: Runtime | undefined = entry.status === 'valid' ? entry.runtime : undefined;
  if (runtime === 'docker') return { kind: 'docker', container: targetName('docker', config, name) };
  if (runtime === 'systemd' && config.systemd.output === 'journal') {
    return { kind: 'journal', unit: targetName('systemd', config, name), scope: config.systemd.scope };
  }
  if (runtime === undefined && !existsSync(live)) {
    throw new OpsError(`${entry.file} has errors, so its runtime is unknown, and ${relative(project.paths.root, live)} does not exist`, 'invalid');
  }
  return { kind: 'files', live, files: logFiles(live) };
}

/** journalctl's arguments for a unit (argv, no shell). */
export function journalctlArgs(source: Extract<LogSource, { kind: 'journal' }>, opts: Pick<LogsOptions, 'tail' | 'since' | 'follow' | 'timestamps'>): string[] {
  return [
    ...(source.scope === 'user' ? ['--user'] : []), '-u', source.unit, '--no-pager',
    ...(opts.tail !== undefined ? ['-n', String(opts.tail)] : []),
    // `@<seconds>.<ms>`: journalctl keeps the fraction, so --since is to the millisecond here too.
    ...(opts.since ? ['--since', `@${epochSeconds(opts.since, 3)}`] : []),
    ...(opts.follow ? ['-f'] : []),
    ...(opts.timestamps === false ? ['-o', 'cat'] : []),
  ];
}

/** Epoch seconds with `digits` fraction digits (3 or more): `1767323045.678`. */
function epochSeconds(at: Date, digits: number): string {
  const ms = at.getTime();
  return `${Math.floor(ms / 1000)}.${String(((ms % 1000) + 1000) % 1000).padStart(3, '0').padEnd(digits, '0')}`;
}

/** The Engine's `since`: seconds with a fraction (`1767323045.678000000`), so --since keeps its milliseconds. */
export function dockerSince(since: Date): string {
  return epochSeconds(since, 9);
}

const DOCKER_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z /;

/** One line of `docker logs --timestamps`: its RFC 3339 nano time as tend's stamp (milliseconds), or left out. */
export function dockerLine(line: string, timestamps: boolean): string {
  const m = DOCKER_TIME.exec(line);
  if (!m) return line;
  const rest = line.slice(m[0].length);
  return timestamps ? `${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z ${rest}` : rest;
}

/** Splits Docker's multiplexed log stream (8-byte frame headers: 1 stdout, 2 stderr) across chunk boundaries. */
export class DockerDemux {
  private rest: Buffer = Buffer.alloc(0);
  constructor(private readonly out: (b: Buffer) => void, private readonly err: (b: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.rest = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
    while (this.rest.length >= 8) {
      const size = this.rest.readUInt32BE(4);
      if (this.rest.length < 8 + size) return;
      const payload = this.rest.subarray(8, 8 + size);
      (this.rest[0] === 2 ? this.err : this.out)(payload);
      this.rest = this.rest.subarray(8 + size);
    }
  }
}

async function dockerLogs(container: string, opts: LogsOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
  const docker = await connect();
  const c = docker.getContainer(container);
  let tty: boolean;
  try {
    tty = (await c.inspect()).Config.Tty;
  } catch (e) {
    const code = (e as { statusCode?: number }).statusCode;
    if (code === 404) throw new OpsError(`no container ${container} (not created yet?)`, 'not-found');
    throw new OpsError(`cannot read container ${container}: ${errorMessage(e)}`, 'failed');
  }
  // Always with the Engine's timestamps: shown as tend's stamps, or taken off (--no-timestamps).
  const base = {
    stdout: true, stderr: true, timestamps: true,
    ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
    ...(opts.since ? { since: dockerSince(opts.since) as unknown as number } : {}),
  };
  const show = opts.timestamps !== false;
  const lines = (to: NodeJS.WritableStream) => new LineRewriter((t) => void to.write(t), (l) => dockerLine(l, show));
  const outLines = lines(out);
  const errLines = tty ? outLines : lines(err);
  const sink = tty ? { push: (b: Buffer) => outLines.push(b) } : new DockerDemux((b) => outLines.push(b), (b) => errLines.push(b));
  const done = () => {
    outLines.end();
    errLines.end();
  };
  if (!opts.follow) {
    sink.push(await c.logs({ ...base, follow: false }));
    done();
    return;
  }
  const stream = await c.logs({ ...base, follow: true });
  await new Promise<void>((resolve, reject) => {
    const stop = () => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      resolve();
    };
    opts.signal?.addEventListener('abort', stop, { once: true });
    stream.on('data', (b: Buffer) => sink.push(b));
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', (e: Error) => (opts.signal?.aborted ? resolve() : reject(e)));
  });
  done();
}

async function journalLogs(source: Extract<LogSource, { kind: 'journal' }>, opts: LogsOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
  const child = execa('journalctl', journalctlArgs(source, opts), {
    reject: false, stdin: 'ignore', buffer: false, ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(err, { end: false });
  const r = await child;
  if ((r as { code?: string }).code === 'ENOENT') throw new OpsError('journalctl is not installed; set systemd.output: files in tend.yaml to log to instances/<name>/logs/', 'failed');
  if (r.isCanceled) return;
  if (r.exitCode !== 0) throw new OpsError(`journalctl ${journalctlArgs(source, opts).join(' ')} exited with ${r.exitCode ?? r.signal ?? 'an error'}`, 'failed');
}

async function fileLogs(source: Extract<LogSource, { kind: 'files' }>, root: string, opts: LogsOptions, out: NodeJS.WritableStream): Promise<void> {
  if (source.files.length === 0 && !opts.follow) throw new OpsError(`no logs yet: ${relative(root, source.live)} does not exist`, 'not-found');
  const show = opts.timestamps !== false;
  const lines = readLogLines(source.files, { ...(opts.tail !== undefined ? { tail: opts.tail } : {}), ...(opts.since ? { since: opts.since } : {}) });
  if (lines.length > 0) out.write(`${(show ? lines : lines.map(unstamped)).join('\n')}\n`);
  if (!opts.follow) return;
  const from = existsSync(source.live) ? statSync(source.live).size : 0;
  const rewriter = new LineRewriter((t) => void out.write(t), show ? (l) => l : unstamped);
  await followFile(source.live, from, (b) => rewriter.push(b), {
    ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
  });
  rewriter.end();
}

/**
 * Writes the logs of instance `name` to `streams` (see LogsOptions); with `follow`, resolves once `signal` aborts.
 * Returns where they came from. Throws OpsError for an unknown instance or when there are no logs yet.
 */
export async function instanceLogs(project: Project, name: string, streams: LogsStreams, opts: LogsOptions = {}): Promise<LogSource> {
  if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0)) throw new OpsError(`--tail ${opts.tail}: not a whole number of lines`, 'invalid');
  const source = logSourceOf(project, name);
  const { stdout: out, stderr: err } = streams;
  switch (source.kind) {
    case 'docker':
      await dockerLogs(source.container, opts, out, err);
      break;
    case 'journal':
      await journalLogs(source, opts, out, err);
      break;
    case 'files':
      await fileLogs(source, project.paths.root, opts, out);
      break;
    default: {
      const never: never = source;
      throw new Error(`unknown log source ${JSON.stringify(never)}`);
    }
  }
  return source;
}
