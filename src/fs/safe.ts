// tend's own files next to what an instance may touch: never followed through a link, refused unless a regular file.
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { TendError } from '../shared/errors.js';

/** A symlink, FIFO, directory or device where tend expects its own regular file. */
export class UnsafeFileError extends TendError {
  readonly code = 'EUNSAFE';
  constructor(readonly path: string, readonly what: string, expected = 'a regular file') {
    // The operator's to remove; trying again finds the same thing.
    super(`refusing ${path}: it is ${what}, not ${expected} (tend never follows links or opens special files among its own files; remove it and check what put it there)`, { kind: 'user' });
  }
}

/** `a symbolic link`, `a FIFO`, ... for a stat that is not a regular file; undefined for a regular file. */
export function kindOf(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Opens one of tend's own files without following a final symlink (O_NOFOLLOW) and without blocking
 * on a FIFO (O_NONBLOCK), then insists it is a regular file. Throws UnsafeFileError for a link, FIFO,
 * directory or device; other errors (ENOENT included) are rethrown as they are.
 */
export function openOwnFile(file: string, flags: number, mode = 0o644): number {
  let fd: number;
  try {
    fd = openSync(file, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
  } catch (err) {
    const code = errno(err);
    if (code === 'ELOOP' || code === 'EMLINK') throw new UnsafeFileError(file, 'a symbolic link');
    if (code === 'EISDIR') throw new UnsafeFileError(file, 'a directory');
    if (code === 'ENXIO') throw new UnsafeFileError(file, 'a FIFO or socket');
    throw err;
  }
  const what = kindOf(fstatSync(fd));
  if (what !== undefined) {
    closeSync(fd);
    throw new UnsafeFileError(file, what);
  }
  return fd;
}

/** The text of one of tend's own files, or undefined when it does not exist; a link or special file throws UnsafeFileError. */
export function readOwnFile(file: string): string | undefined {
  let fd: number;
  try {
    fd = openOwnFile(file, constants.O_RDONLY);
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
    throw err;
  }
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Throws UnsafeFileError unless `file` is absent or a regular file (checked before a rename replaces it). */
export function assertOwnFileOrAbsent(file: string): void {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return;
    throw err;
  }
  const what = kindOf(st);
  if (what !== undefined) throw new UnsafeFileError(file, what);
}

/** Throws UnsafeFileError unless `dir` is absent or a real directory (not a link to one). */
export function assertOwnDirOrAbsent(dir: string): void {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  if (st.isDirectory()) return;
  throw new UnsafeFileError(dir, kindOf(st) ?? 'a regular file', 'a directory');
}

/**
 * Replaces one of tend's own files atomically (temporary file + rename), refusing when a link or
 * special file stands in its place or its folder is a link.
 */
export function writeOwnFile(file: string, data: string | Buffer, mode = 0o644): void {
  assertOwnDirOrAbsent(dirname(file));
  assertOwnFileOrAbsent(file);
  writeFileAtomic(file, data, mode);
}
