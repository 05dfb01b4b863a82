// Reading instances/<name>/logs/: the live file and rotated copies (oldest first), the last N lines,
// lines since a time (by their leading timestamps: the time tend's stamper wrote each line, see
// libexec/tend-logstamp.mjs), and following the live file as it grows.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { STAMP } from '../drivers/logstamp.js';

/** A line without tend's leading time stamp (a line without one is left as it is). */
export function unstamped(line: string): string {
  return line.replace(STAMP, '');
}

/** Splits a byte stream into whole lines (the last partial line is held until it ends) and writes each one changed. */
export class LineRewriter {
  private rest = '';
  constructor(private readonly write: (text: string) => void, private readonly change: (line: string) => string) {}

  push(chunk: Buffer | string): void {
    const text = this.rest + chunk.toString();
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.rest = text;
      return;
    }
    this.rest = text.slice(end + 1);
    this.write(text.slice(0, end).split('\n').map(this.change).join('\n') + '\n');
  }

  /** Writes the held partial line, if any. */
  end(): void {
    if (this.rest !== '') this.write(this.change(this.rest));
    this.rest = '';
  }
}

/** The log files of an instance, oldest first: `<name>.log.<n>` (higher n is older), then the live `<name>.log`. */
export function logFiles(liveFile: string): string[] {
  const dir = dirname(liveFile);
  const base = basename(liveFile);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // no logs/ folder yet: no files
    return [];
  }
  const rotated = names
    .flatMap((n) => {
      const m = n.startsWith(`${base}.`) ? /^(\d+)$/.exec(n.slice(base.length + 1)) : null;
      return m ? [{ n: Number(m[1]), file: join(dir, n) }] : [];
    })
    .sort((a, b) => b.n - a.n)
    .map((r) => r.file);
  return [...rotated, ...(names.includes(base) ? [liveFile] : [])];
}

/** A leading timestamp (`2026-01-02T03:04:05.678Z`, `[2026-01-02 03:04:05]`, ...) as epoch ms. */
export function leadingTime(line: string): number | undefined {
  const m = /^\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)(Z|[+-]\d{2}:?\d{2})?/.exec(line);
  if (!m) return undefined;
  const t = Date.parse(`${m[1]!.replace(' ', 'T').replace(',', '.')}${m[2] ?? ''}`);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Lines at or after `since`: a line without a timestamp belongs with the timestamped line before it
 * (lines before the first timestamp, with the first); a text with no timestamps at all is kept whole.
 */
export function linesSince(lines: readonly string[], since: number): string[] {
  const out: string[] = [];
  let pending: string[] = [];
  let keep: boolean | undefined;
  for (const line of lines) {
    const t = leadingTime(line);
    if (t !== undefined) {
      keep = t >= since;
      if (keep) out.push(...pending);
      pending = [];
      if (keep) out.push(line);
    } else if (keep === undefined) {
      pending.push(line);
    } else if (keep) {
      out.push(line);
    }
  }
  return [...out, ...pending];
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The last `n` lines of one file, read backwards in blocks (a large file is not read whole). */
export function lastLines(file: string, n: number): string[] {
  if (n <= 0) return [];
  const fd = openSync(file, 'r');
  try {
    const size = statSync(file).size;
    const block = 64 * 1024;
    let pos = size;
    let buf = Buffer.alloc(0);
    while (pos > 0) {
      const len = Math.min(block, pos);
      pos -= len;
      const chunk = Buffer.alloc(len);
      readSync(fd, chunk, 0, len, pos);
      buf = Buffer.concat([chunk, buf]);
      // n lines need n newlines before the last line's end (a trailing newline ends the last line).
      let count = 0;
      for (const b of buf) if (b === 0x0a) count++;
      if (count > n) break;
    }
    return splitLines(buf.toString('utf8')).slice(-n);
  } finally {
    closeSync(fd);
  }
}

export interface FileLogOptions {
  tail?: number;
  since?: Date;
}

/** The lines to print for `files` (oldest first) with --tail and --since. */
export function readLogLines(files: readonly string[], opts: FileLogOptions): string[] {
  const since = opts.since?.getTime();
  const live = since === undefined ? files : files.filter((f) => statSync(f).mtimeMs >= since);
  if (since === undefined && opts.tail !== undefined) {
    const out: string[] = [];
    for (const f of [...live].reverse()) {
      out.unshift(...lastLines(f, opts.tail - out.length));
      if (out.length >= opts.tail) break;
    }
    return out;
  }
  let lines = live.flatMap((f) => splitLines(readFileSync(f, 'utf8')));
  if (since !== undefined) lines = linesSince(lines, since);
  return opts.tail !== undefined ? lines.slice(-opts.tail) : lines;
}

export interface FollowOptions {
  signal?: AbortSignal;
  /** How often the file is checked for growth (default 250 ms). */
  pollMs?: number;
}

/**
 * Writes what is appended to `file` from byte `from` on until `signal` aborts; a file that shrinks
 * (copy-truncate rotation) is read again from its start, and a missing one is waited for.
 */
export async function followFile(file: string, from: number, write: (chunk: Buffer) => void, opts: FollowOptions = {}): Promise<void> {
  let pos = from;
  while (!opts.signal?.aborted) {
    const size = existsSync(file) ? statSync(file).size : 0;
    if (size < pos) pos = 0;
    if (size > pos) {
      const fd = openSync(file, 'r');
      try {
        const chunk = Buffer.alloc(size - pos);
        const got = readSync(fd, chunk, 0, chunk.length, pos);
        pos += got;
        if (got > 0) write(chunk.subarray(0, got));
      } finally {
        closeSync(fd);
      }
    }
    try {
      await sleep(opts.pollMs ?? 250, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch {
      return; // aborted
    }
  }
}
