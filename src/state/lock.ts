// The per-instance lock every tend process (CLI and agent) takes before acting on an instance.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock, liveLockOwner, type Lock, type LockOwner } from '../fs/lock.js';
import type { RootPaths } from '../spec/config.js';

export type { Lock, LockOwner } from '../fs/lock.js';

/** Folder of the instance locks. Outside `instances/<name>/` so deleting an instance keeps its lock, and dot-named so it is never an instance. */
export const LOCKS_DIR = '.locks';

/** Long enough for a build and two health waits of the holder. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10 * 60_000;

export interface InstanceLockOptions<T = unknown> {
  signal?: AbortSignal;
  /** How long to wait for another holder (default 10 minutes), then reject with `gave up after ...`. */
  timeoutMs?: number;
  /** What this process is doing, shown to waiters (`reconcile`, `agent: update web`). */
  purpose?: string;
  /** Called once when a live holder makes us wait (its owner, when readable). */
  onWait?: (owner: LockOwner | undefined) => void;
  /** Called when a lock left by a dead process (or an earlier boot) is taken over: worth a warning. */
  onStale?: (owner: LockOwner | undefined) => void;
  /**
   * Keep the lock after `fn` resolves when this says so: the caller releases it later (the `lock` given
   * to `fn`), and runs what comes next for the instance inside `withLocksHeld`.
   */
  keep?: (value: T) => boolean;
}

/** `<instances>/.locks/<name>.lock`. */
export function instanceLockPath(paths: Pick<RootPaths, 'instances'>, name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`"${name}" cannot name an instance lock`);
  return join(paths.instances, LOCKS_DIR, `${name}.lock`);
}

/** Instance lock paths the current async call chain holds, so a nested call for the same instance runs at once. */
const holding = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Runs `fn` while holding the instance's lock, waiting (with backoff) while another process or task
 * holds it, and releases it afterwards whatever `fn` does (unless `keep` says to keep it). A lock
 * whose owner died is taken over (`onStale`). Re-entrant within one call chain: `fn` may call `withInstanceLock` for the same
 * instance again without deadlocking; other tasks of the same process wait like other processes.
 * Rejects when `signal` aborts (with its reason) or after `timeoutMs`.
 */
export async function withInstanceLock<T>(
  paths: Pick<RootPaths, 'instances'>,
  name: string,
  fn: (lock: Lock | undefined) => Promise<T> | T,
  opts: InstanceLockOptions<T> = {},
): Promise<T> {
  const path = instanceLockPath(paths, name);
  const outer = holding.getStore();
  if (outer?.has(path)) return fn(undefined);
  mkdirSync(join(paths.instances, LOCKS_DIR), { recursive: true });
  const { lock } = await acquireLock(path, {
    timeoutMs: opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    purpose: opts.purpose ?? `tend ${name}`,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onWait ? { onWait: opts.onWait } : {}),
    ...(opts.onStale ? { onStale: opts.onStale } : {}),
  });
  let keep = false;
  try {
    const value = await holding.run(new Set([...(outer ?? []), path]), () => fn(lock));
    keep = opts.keep?.(value) ?? false;
    return value;
  } finally {
    if (!keep) lock.release();
  }
}

/** Runs `fn` as the holder of `locks` (taken earlier and kept): `withInstanceLock` for them inside runs at once. */
export function withLocksHeld<T>(locks: readonly Lock[], fn: () => Promise<T>): Promise<T> {
  if (locks.length === 0) return fn();
  return holding.run(new Set([...(holding.getStore() ?? []), ...locks.map((l) => l.path)]), fn);
}

/** Who holds the instance's lock right now, or undefined when nobody alive does (for `tend status`). */
export function instanceLockOwner(paths: Pick<RootPaths, 'instances'>, name: string): LockOwner | undefined {
  return liveLockOwner(instanceLockPath(paths, name));
}
