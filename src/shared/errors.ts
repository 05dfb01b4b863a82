// tend's error hierarchy: one base with a kind (whose fault: the operator's input, or the system) and
// whether trying again can help; the CLI picks exit codes and the agent decides retries from these, never
// from message text. Plus errorMessage(), the one way to turn anything thrown into a line.

/** `user`: bad input or configuration the operator must fix; `system`: the machine, a runtime or tend failed. */
export type ErrorKind = 'user' | 'system';

export interface TendErrorOptions {
  /** Default `system`. */
  kind?: ErrorKind;
  /** Whether the same work may succeed later unchanged. Default: true for `system`, false for `user`. */
  retryable?: boolean;
  /** The error this one explains (standard `Error.cause`). */
  cause?: unknown;
}

/** The base of tend's errors. `message` is for people and never holds a secret value. */
export class TendError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  constructor(message: string, opts: TendErrorOptions = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    this.kind = opts.kind ?? 'system';
    this.retryable = opts.retryable ?? this.kind === 'system';
  }
}

/** The message of anything thrown: an Error's message, else its string form. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message;
  return String(err);
}

/** The kind of anything thrown; what tend did not classify is a system error. */
export function errorKind(err: unknown): ErrorKind {
  return err instanceof TendError ? err.kind : 'system';
}

/** Whether work that threw `err` may be tried again; what tend did not classify may (with backoff). */
export function isRetryable(err: unknown): boolean {
  return err instanceof TendError ? err.retryable : true;
}

/**
 * The CLI's exit code for an error that ended a command (docs/commands.md "Exit codes"): 1 for user and
 * system errors alike (2 and 3 are results, not errors: actions planned, held). Only cli/ sets it.
 */
export const EXIT_CODE: Readonly<Record<ErrorKind, 1>> = { user: 1, system: 1 };

export function exitCodeOf(err: unknown): number {
  return EXIT_CODE[errorKind(err)];
}

/** The errno code of a Node system error (`ENOENT`, `EACCES`, ...), else undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' ? code : undefined;
}

/** The path (or a folder on it) does not exist: an absent thing, not a failure. Anything else is an error to report. */
export function isNotFound(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
