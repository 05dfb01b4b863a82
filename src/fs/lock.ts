// Cross-process lock files (`releases/.lock-<version>`, `instances/.locks/<name>.lock`): exclusive create, owner PID inside, stale locks recovered.
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ioError } from './io-error.js';

export interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  purpose?: string;
  /** Linux boot id: a lock from an earlier boot is stale even when its PID is reused now. */
  boot?: string;
}

export interface Lock {
  path: string;
  owner: LockOwner;
  /** Removes the lock file if it is still ours. Safe to call twice. */
  release(): void;
}

export interface AcquireOptions {
  /** What the holder is doing, for messages (`build v1.3.0`). */
  purpose?: string;
  /** How long to wait for another holder before giving up. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called once, when the lock is found held by a live owner and waiting begins. */
  onWait?: (owner: LockOwner | undefined) => void;
  /** Called when a lock left by a dead process is removed. */
  onStale?: (owner: LockOwner | undefined) => void;
}

export interface Acquired {
  lock: Lock;
  /** True when another process held the lock first (its result may now be there to reuse). */
  waited: boolean;
}

/** An unreadable lock file younger than this is taken as being written right now. */
const UNREADABLE_GRACE_MS = 10_000;

/** Lock files this process holds now (path -> content): our own PID in a file not listed here is a dead predecessor's. */
const held = new Map<string, string>();

let bootId: string | undefined | null = null;

/** This boot's id (Linux), undefined where the system has none to read. */
export function currentBootId(): string | undefined {
  if (bootId === null) bootId = readRaw('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
  return bootId;
}

/** Is this process alive? `kill(pid, 0)` probes without signalling; EPERM means alive, not ours. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export function parseOwner(raw: string): LockOwner | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockOwner>;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string' && typeof v.startedAt === 'string') return v as LockOwner;
  } catch {
    // fall through
  }
  return undefined;
}

export function readLockOwner(path: string): LockOwner | undefined {
  const raw = readRaw(path);
  return raw === undefined ? undefined : parseOwner(raw);
}

/** The owner of the lock at `path` when a live process holds it (undefined when free or stale). */
export function liveLockOwner(path: string): LockOwner | undefined {
  const raw = readRaw(path);
  if (raw === undefined || isStale(path, raw)) return undefined;
  return parseOwner(raw);
}

function readRaw(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Left by a dead process on this host (owners on other hosts cannot be probed and count as alive).
 * A PID can be reused: a lock from another boot, or one naming this very process that it does not
 * hold (a predecessor with the same PID, as in a restarted container), is stale too.
 */
function isStale(path: string, raw: string): boolean {
  const owner = parseOwner(raw);
  if (!owner) return ageMs(path) > UNREADABLE_GRACE_MS;
  if (owner.hostname !== hostname()) return false;
  const boot = currentBootId();
  if (owner.boot && boot && owner.boot !== boot) return true;
  if (owner.pid === process.pid) return held.get(path) !== raw;
  return !pidAlive(owner.pid);
}

function tryCreate(path: string, owner: LockOwner): Lock | undefined {
  const text = `${JSON.stringify(owner)}\n`;
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw ioError('create', path, err);
  }
  try {
    writeFileSync(fd, text);
  } catch (err) {
    // Ours (created above) but empty or partial, e.g. on a full disk: an unreadable lock would hold others off.
    unlinkQuiet(path);
    throw ioError('create', path, err);
  } finally {
    closeSync(fd);
  }
  held.set(path, text);
  let mine = true;
  return {
    path, owner,
    release() {
      if (!mine) return;
      mine = false;
      if (held.get(path) === text) held.delete(path);
      if (readRaw(path) === text) unlinkQuiet(path);
    },
  };
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Removes a stale lock whose content is still `raw`. A second lock (`<path>.break`) makes the
 * check-and-remove atomic between recoverers, so none of them removes a lock just re-created.
 */
function breakStale(path: string, raw: string): boolean {
  const breaker = `${path}.break`;
  const me = newOwner('recover stale lock');
  const breaking = tryCreate(breaker, me);
  if (!breaking) {
    const other = readRaw(breaker);
    if (other !== undefined && isStale(breaker, other)) unlinkQuiet(breaker);
    return false;
  }
  try {
    if (readRaw(path) !== raw) return false;
    unlinkQuiet(path);
    return true;
  } finally {
    breaking.release();
  }
}

function newOwner(purpose: string | undefined): LockOwner {
  const boot = currentBootId();
  return { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), ...(purpose ? { purpose } : {}), ...(boot ? { boot } : {}) };
}

/** Takes the lock now or returns undefined when a live owner holds it (a stale lock is recovered). */
export function tryAcquireLock(path: string, opts: Pick<AcquireOptions, 'purpose' | 'onStale'> = {}): Lock | undefined {
  for (let attempt = 0; attempt < 3; attempt++) {
    const lock = tryCreate(path, newOwner(opts.purpose));
    if (lock) return lock;
    const raw = readRaw(path);
    if (raw === undefined) continue;
    if (!isStale(path, raw) || !breakStale(path, raw)) return undefined;
    opts.onStale?.(parseOwner(raw));
  }
  return undefined;
}

export function describeOwner(owner: LockOwner | undefined): string {
  if (!owner) return 'an unknown process';
  return `pid ${owner.pid} on ${owner.hostname}${owner.purpose ? ` (${owner.purpose})` : ''}, since ${owner.startedAt}`;
}

/** Waits (polling with backoff, at most `timeoutMs`) until the lock is ours. */
export async function acquireLock(path: string, opts: AcquireOptions): Promise<Acquired> {
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 50;
  let waited = false;
  let announced = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    const lock = tryCreate(path, newOwner(opts.purpose));
    if (lock) return { lock, waited };
    const raw = readRaw(path);
    if (raw === undefined) continue;
    if (isStale(path, raw) && breakStale(path, raw)) {
      opts.onStale?.(parseOwner(raw));
      continue;
    }
    const owner = parseOwner(raw);
    waited = true;
    // An empty file is a lock being written right now (created, content not yet there): name its owner once known.
    if (!announced && (owner || ageMs(path) > 1000)) {
      announced = true;
      opts.onWait?.(owner);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`gave up after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${path}, held by ${describeOwner(owner)}`);
    await sleep(Math.min(delay, left), undefined, { signal: opts.signal });
    delay = Math.min(delay * 2, 1000);
  }
}
