// File helpers for releases: streaming sha256 without loading whole files, and the tail of a log.
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { createHash } from 'node:crypto';

const CHUNK = 1 << 20;

/** Hex sha256 of a file, read in 1 MiB chunks (image tars can be large). */
export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The last `count` lines of a text file (at most its last 256 KiB are read); [] when unreadable. */
export function tailLines(file: string, count: number): string[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    // missing: no lines
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-count);
  } finally {
    closeSync(fd);
  }
}
