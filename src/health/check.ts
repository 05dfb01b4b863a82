// Waits for an instance to turn healthy: tries at an interval until healthy, the deadline, a crash or an abort.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthSpec, InstanceSpec, ObservedItem } from '../model/types.js';
import { parseDuration } from '../shared/duration.js';
import { healthCheckOf } from '../shared/health-check.js';
import { abortError, formatMs, probeExec, probeHttp, probeTcp, type ProbeOptions, type ProbeResult } from './probes.js';

/** What to check: the health spec plus where the instance listens (`port` is the port probed). */
export type HealthTarget = HealthSpec & { port: number; address: string };

export interface Liveness {
  alive: boolean;
  /** Why not, for people: `process exited (status 1)`. */
  why?: string;
}

export const DEFAULT_HEALTH_TIMEOUT = '30s';
export const DEFAULT_HEALTH_INTERVAL = '1s';
/** A try gets at most this long (and never past the deadline). */
export const DEFAULT_TRY_TIMEOUT_MS = 5_000;

export interface WaitHealthyOptions {
  /** Aborting rejects at once with an `AbortError` (see `abortError`); the try in flight is ended. */
  signal?: AbortSignal;
  /**
   * Asked before every try (the first one included); `alive: false` ends the wait at once with `why`
   * as the reason. The executor backs it with the driver's observe. A call that throws counts as alive
   * (an observation hiccup must not fail a rollout); one that hangs is bounded by the per-try timeout.
   */
  alive?: () => Promise<Liveness>;
  /** A monotonic clock in milliseconds (default `performance.now`), for the deadline and `ms`. */
  now?: () => number;
  /** Commands only: variables added to tend's environment (the instance's env, TEND_PORT, ...). */
  env?: Record<string, string>;
  /** Commands only: working directory (the instance directory). */
  cwd?: string;
  /** Per-try timeout (default min(5 s, the deadline)); a try never runs past the deadline. */
  tryTimeoutMs?: number;
  /** Called after every try, for logs and progress. */
  onTry?: (t: { try: number; ok: boolean; detail?: string }) => void;
}

export type HealthResult =
  | { healthy: true; tries: number; ms: number }
  | {
    healthy: false;
    /** `Health check timeout after 30s: HTTP 500 from /health`, or the `why` of a dead process. */
    reason: string;
    /** `timeout`: the deadline passed; `not-alive`: the process ended during the wait. */
    cause: 'timeout' | 'not-alive';
    tries: number;
    ms: number;
  };

/** The health target of an instance spec: its health check on its own port and address. */
export function healthTarget(spec: Pick<InstanceSpec, 'health' | 'port' | 'address'>): HealthTarget {
  return { ...spec.health, port: spec.health.port ?? spec.port, address: spec.address };
}

/**
 * Liveness from an observed unit / container / session, for `alive`. With `baseline` (the item as
 * observed right after the start), a changed start time or a higher restart count means the process
 * crashed and was restarted by its runtime (systemd `Restart=`, Docker restart policies).
 */
export function livenessOf(item: ObservedItem | undefined, baseline?: Pick<ObservedItem, 'startedAt' | 'restarts'>): Liveness {
  if (!item || item.state === 'absent') return { alive: false, why: 'process is gone' };
  if (item.state !== 'running') {
    if (item.exitSignal) return { alive: false, why: `process killed by ${item.exitSignal}` };
    if (item.exitStatus !== undefined) return { alive: false, why: `process exited (status ${item.exitStatus})` };
    return { alive: false, why: item.state === 'failed' ? 'process failed' : 'process stopped' };
  }
  if (baseline?.restarts !== undefined && item.restarts !== undefined && item.restarts > baseline.restarts) {
    return { alive: false, why: `process crashed and was restarted (${item.restarts - baseline.restarts} restart(s) during the health check)` };
  }
  // Start times come to the second (launchd's comes from `ps` etime, which can wobble by one): a
  // later start more than 1.5 s off is a restart; restart counters catch faster ones where they exist.
  if (baseline?.startedAt && item.startedAt && Date.parse(item.startedAt) - Date.parse(baseline.startedAt) > 1500) {
    return { alive: false, why: `process restarted during the health check (started again at ${item.startedAt})` };
  }
  return { alive: true };
}

/** One try of the target's check (its kind decides the probe). */
export function probeOnce(t: HealthTarget, o: ProbeOptions): Promise<ProbeResult> {
  const check = healthCheckOf(t);
  switch (check.kind) {
    case 'http':
      return probeHttp(t.address, t.port, check.path, o);
    case 'tcp':
      return probeTcp(t.address, t.port, o);
    case 'exec':
      return probeExec(check.argv, o);
    default: {
      const never: never = check;
      throw new Error(`unknown health check ${JSON.stringify(never)}`);
    }
  }
}

/** `alive()`, bounded: a throw or no answer within `timeoutMs` counts as alive; an abort rejects. */
function askAlive(alive: () => Promise<Liveness>, timeoutMs: number, signal: AbortSignal | undefined): Promise<Liveness> {
  if (signal?.aborted) return Promise.reject(abortError(signal.reason));
  return new Promise((resolve, reject) => {
    const done = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => done(() => reject(abortError(signal?.reason)));
    const timer = setTimeout(() => done(() => resolve({ alive: true })), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    alive().then((l) => done(() => resolve(l)), () => done(() => resolve({ alive: true })));
  });
}

/** The gap before the second try; it doubles per try until it reaches the interval. */
const FIRST_RETRY_MS = 100;

/**
 * Tries the health check every `interval` (default 1s; a try starts an interval after the previous
 * one started, or at once when that one took longer; the first gaps are shorter: 100 ms, doubling) until one passes, the deadline `timeout`
 * (default 30s) passes, or `alive()` reports the process gone. Resolves in all those cases; rejects
 * only when `signal` aborts (an `AbortError`, code `ABORT_ERR`, cause = the signal's reason) or the
 * spec's durations do not parse. The timeout reason keeps the old manager's words:
 * `Health check timeout after 30s: <what the last try saw>`.
 */
export async function waitHealthy(target: HealthTarget, opts: WaitHealthyOptions = {}): Promise<HealthResult> {
  const now = opts.now ?? (() => performance.now());
  const deadlineMs = parseDuration(target.timeout ?? DEFAULT_HEALTH_TIMEOUT);
  const intervalMs = parseDuration(target.interval ?? DEFAULT_HEALTH_INTERVAL);
  const tryTimeoutMs = opts.tryTimeoutMs ?? Math.min(DEFAULT_TRY_TIMEOUT_MS, Math.max(deadlineMs, 1));
  const { signal } = opts;
  const start = now();
  const elapsed = () => now() - start;
  let tries = 0;
  let last: string | undefined;
  for (;;) {
    if (signal?.aborted) throw abortError(signal.reason);
    if (opts.alive) {
      const live = await askAlive(opts.alive, tryTimeoutMs, signal);
      if (!live.alive) return { healthy: false, cause: 'not-alive', reason: live.why ?? 'process is not running', tries, ms: elapsed() };
    }
    const tryStart = now();
    const budget = Math.max(1, Math.min(tryTimeoutMs, deadlineMs - (tryStart - start)));
    tries++;
    const r = await probeOnce(target, { timeoutMs: budget, ...(signal ? { signal } : {}), ...(opts.env ? { env: opts.env } : {}), ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    opts.onTry?.({ try: tries, ok: r.ok, ...(r.ok ? {} : { detail: r.detail }) });
    if (r.ok) return { healthy: true, tries, ms: elapsed() };
    // A try the deadline cut short says less than the full try before it.
    if (!(r.timedOut && budget < tryTimeoutMs && last)) last = r.detail;
    const left = deadlineMs - elapsed();
    if (left <= 0) return { healthy: false, cause: 'timeout', reason: `Health check timeout after ${formatMs(deadlineMs)}: ${last}`, tries, ms: elapsed() };
    // A process just started is usually listening within a fraction of a second: the first tries
    // come sooner (100 ms, doubling) until they reach the interval.
    const gap = Math.min(intervalMs, FIRST_RETRY_MS * 2 ** (tries - 1));
    const wait = Math.min(Math.max(0, tryStart + gap - now()), left);
    try {
      await sleep(wait, undefined, signal ? { signal } : {});
    } catch {
      throw abortError(signal?.reason);
    }
    if (elapsed() >= deadlineMs) return { healthy: false, cause: 'timeout', reason: `Health check timeout after ${formatMs(deadlineMs)}: ${last}`, tries, ms: elapsed() };
  }
}
