// I/O errors that name their file: `cannot write instances/web/status.json: no space left on device (ENOSPC)`.
import { isAbsolute, relative, sep } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { TendError } from '../shared/errors.js';

export type IoVerb = 'write' | 'create' | 'append to';

/** An errno error (ENOSPC, EACCES, EIO, ...) while tend wrote `path`; `code` is the errno name, as on the cause. */
export class FileIoError extends TendError {
  readonly code: string;
  constructor(readonly verb: IoVerb, readonly path: string, cause: NodeJS.ErrnoException & { code: string }) {
    super(`cannot ${verb} ${shownPath(path)}: ${describeErrno(cause)}`, { cause });
    this.code = cause.code;
  }
}

/** `path` relative to the working directory when it lies below it (`instances/web/status.json`), else as given. */
export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : path;
}

/** `no space left on device (ENOSPC)`: the system's text for the errno, then its name. */
export function describeErrno(err: NodeJS.ErrnoException & { code: string }): string {
  const text = typeof err.errno === 'number' ? getSystemErrorMap().get(err.errno)?.[1] : undefined;
  return `${text ?? err.message.replace(/^[A-Z]+: /, '').replace(/, \w+( '.*')?$/, '')} (${err.code})`;
}

function isErrno(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && /^E[A-Z0-9]+$/.test((err as NodeJS.ErrnoException).code!);
}

/** `err` as a FileIoError naming `path` when it is an errno error not yet named; anything else unchanged. */
export function ioError(verb: IoVerb, path: string, err: unknown): unknown {
  // EUNSAFE (src/fs/safe.ts) already names the path and why.
  return isErrno(err) && !(err instanceof FileIoError) && err.code !== 'EUNSAFE' ? new FileIoError(verb, path, err) : err;
}

/** Runs `fn`; an errno error it throws is rethrown naming `path`. */
export function withFileErrors<T>(verb: IoVerb, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw ioError(verb, path, err);
  }
}
