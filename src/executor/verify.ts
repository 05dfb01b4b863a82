// The verify-health action: the instance's health check against the spec it applies, ended at once
// when its process dies (observed through the driver), and sleeps the executor waits out (backoff).
import { join } from 'node:path';
import type { InstanceSpec } from '../model/types.js';
import type { VerifyHealthAction } from '../model/plan.js';
import type { Driver, ObserveContext } from '../drivers/types.js';
import { resolveHealthCommand } from '../health/command.js';
import { healthTarget, livenessOf, waitHealthy } from '../health/index.js';
import type { Log } from '../shared/log.js';
import { exitCause, type OutputMark } from './exit-cause.js';
import { errorMessage, TendError } from '../shared/errors.js';

/** A failed health check: the instance is reported unhealthy (not failed) and re-planned; terminal (the spec is held). */
export class HealthFailure extends TendError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/**
 * Checks the health of `action`'s instance; throws HealthFailure with the reason when it fails. When its
 * process exits meanwhile, the reason ends with the cause from its output since `mark` (`EADDRINUSE`).
 */
export async function verifyHealth(action: VerifyHealthAction, spec: InstanceSpec, driver: Driver, ctx: ObserveContext, log: Log, mark?: OutputMark): Promise<void> {
  const name = action.instance;
  const find = async () => {
    const obs = await driver.observe(ctx);
    return obs.status === 'ok' ? obs.items.find((i) => i.owned && i.instance === name && i.runtime === action.runtime) : undefined;
  };
  const baseline = await find();
  const target = healthTarget(spec);
  let cwd: string | undefined;
  if (target.exec) {
    // The program is the release's (or on PATH), never a file the instance can write; it runs in the release directory.
    const version = baseline?.version;
    try {
      const command = resolveHealthCommand(target.exec, version ? join(ctx.paths.releases, version) : undefined, ctx.paths.instances);
      target.exec = command.argv;
      cwd = command.cwd;
    } catch (err) {
      throw new HealthFailure(errorMessage(err));
    }
  }
  const result = await waitHealthy(target, {
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    alive: async () => livenessOf(await find(), baseline),
    ...(cwd ? { cwd } : {}),
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
