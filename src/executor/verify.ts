// The verify-health action: the instance's health check against the spec it applies, ended at once
// when its process dies (observed through the driver), and sleeps the executor waits out (backoff).
import { join } from 'node:path';
import type { Action, InstanceSpec } from '../model/types.js';
import type { Driver, ObserveContext } from '../drivers/types.js';
import { healthTarget, livenessOf, waitHealthy } from '../health/index.js';
import type { Log } from './execute.js';
import { exitCause, type OutputMark } from './exit-cause.js';

/** A failed health check: the instance is reported unhealthy (not failed) and re-planned. */
export class HealthFailure extends Error {}

/**
 * Checks the health of `action`'s instance; throws HealthFailure with the reason when it fails. When its
 * process exits meanwhile, the reason ends with the cause from its output since `mark` (`EADDRINUSE`).
 */
export async function verifyHealth(action: Action, spec: InstanceSpec, driver: Driver, ctx: ObserveContext, log: Log, mark?: OutputMark): Promise<void> {
  const name = action.instance!;
  const find = async () => {
    const obs = await driver.observe(ctx);
    return obs.status === 'ok' ? obs.items.find((i) => i.owned && i.instance === name && i.runtime === action.runtime) : undefined;
  };
  const baseline = await find();
  const result = await waitHealthy(healthTarget(spec), {
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    alive: async () => livenessOf(await find(), baseline),
    cwd: join(ctx.paths.instances, name),
  });
  if (!result.healthy) {
    const cause = result.cause === 'not-alive' && mark ? await exitCause(action.runtime!, ctx.config, ctx.paths, name, mark) : undefined;
    throw new HealthFailure(cause ? `${result.reason}: ${cause}` : result.reason);
  }
  log('info', `${name} healthy after ${result.tries} ${result.tries === 1 ? 'try' : 'tries'}`, { instance: name, tries: result.tries });
}

/** Waits until `at` (epoch ms), at most 5 minutes; an abort ends the wait with the signal's reason. */
export function sleepUntil(at: number, signal?: AbortSignal): Promise<void> {
  const ms = Math.min(300_000, at - Date.now());
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
