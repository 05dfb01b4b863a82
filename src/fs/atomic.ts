// Atomic file writes: a temporary file beside the target, fsynced, then renamed over it (or linked, to create only).
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { withFileErrors } from './io-error.js';

/**
 * Writes `data` to `file` so readers see the old content or the new, never a part.
 * The file gets `mode` (default 0644) from creation on, so a secret is never readable by others.
 * An I/O error (ENOSPC, EACCES, EIO, ...) is a FileIoError naming `file`; the old content stays.
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): void {
  withFileErrors('write', file, () => replace(file, data, mode));
}

/** Writes all of `buf` (one write(2) may take only part of it, e.g. on a nearly full disk; the next one fails). */
function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
}

function replace(file: string, data: string | Buffer, mode: number): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes `file` atomically and only when it does not exist yet (a complete file is linked into place,
 * so no reader sees it half-written and two writers cannot both win); false when it already exists.
 * An I/O error is a FileIoError naming `file`.
 */
export function createFileExclusive(file: string, text: string, mode = 0o644): boolean {
  return withFileErrors('create', file, () => create(file, text, mode));
}

function create(file: string, text: string, mode: number): boolean {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(tmp, text, { mode, flag: 'wx' });
  } catch (err) {
    // A full disk fails the write after the open: leave no empty temporary file behind.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') rmSync(tmp, { force: true });
    throw err;
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}
