// Health now, for status: the HTTP or TCP health check of each running instance's spec (what runs, not
// the desired file), tried once with a short timeout, all at once. Nothing is probed for what does not
// run, and a command check (health.exec) is left to the executor: status runs no program for it.
import type { HealthStatus } from '../model/types.js';
import { healthCheckOf, healthTarget, probeOnce, type ProbeResult } from '../health/index.js';
import { processOf, runningSpec, type RowInput } from './rows.js';
import { errorMessage } from '../shared/errors.js';

export interface ProbeRowsOptions {
  /** Per check (default 1000 ms). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** `inputs` with `probe` set on every row whose process runs and has an HTTP or TCP check (healthy, or why not). */
export async function probeRows(inputs: readonly RowInput[], opts: ProbeRowsOptions = {}): Promise<RowInput[]> {
  const timeoutMs = opts.timeoutMs ?? 1000;
  return Promise.all(inputs.map(async (input) => {
    const spec = runningSpec(input, processOf(input).item);
    if (!spec || healthCheckOf(spec.health).kind === 'exec') return input;
    const t = healthTarget(spec);
    const o = { timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) };
    let r: ProbeResult;
    try {
      r = await probeOnce(t, o);
    } catch (err) {
      r = { ok: false, detail: errorMessage(err) };
    }
    const probe: HealthStatus = { healthy: r.ok, at: new Date().toISOString(), ...(r.ok ? {} : { reason: r.detail }) };
    return { ...input, probe };
  }));
}
