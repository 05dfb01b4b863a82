// One planner measurement in a fresh process: node --expose-gc planner-child.js <size> <workload> <reps>.
// Builds synthetic desired/observed/releases/state in memory, calls dist's plan() once (peak memory, first
// call), then `reps` more times after two warm-up calls; prints one JSON line.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { InstanceStates, ObservedItem, Runtime } from '../../src/model/types.js';
import type { Plan } from '../../src/model/plan.js';
import {
  C0, C1, appliedSpec, built, desired, instanceState, observed, releases, resolved, upToDateItem, validEntry, type ValidEntry,
} from '../../test/helpers/planner-fixtures.js';
import { findRepo } from '../lib/context.js';

export type Workload = 'converged' | 'mixed';

export interface ChildResult {
  size: number;
  workload: Workload;
  firstMs: number;
  ms: number[];
  /** CPU time (user + system) of the same calls: less sensitive to a busy machine than wall time. */
  cpuMs: number[];
  rssStartBytes: number;
  peakRssBytes: number;
  inputsHeapBytes: number;
  planHeapBytes: number;
  summary: Plan['summary'];
  actions: number;
}

const RUNTIMES3: Runtime[] = ['systemd', 'docker', 'tmux'];
const IMAGE_V13 = 'sha256:13';
const IMAGE_V12 = 'sha256:12';

/**
 * `converged`: every instance up to date (a no-op resync). `mixed`: per 20 instances, one version bump
 * (v1.2.0 -> v1.3.0), one new instance, the rest up to date.
 */
function inputs(n: number, workload: Workload) {
  const entries: ValidEntry[] = [];
  const items: ObservedItem[] = [];
  const states: InstanceStates = {};
  for (let i = 0; i < n; i++) {
    const name = `i${i}`;
    const runtime = RUNTIMES3[i % 3]!;
    const entry = validEntry(name, { version: 'v1.3.0', port: 10000 + (i % 50000), env: { SLOT: String(i) } }, runtime);
    entries.push(entry);
    const kind = workload === 'mixed' ? (i % 20 === 7 ? 'update' : i % 20 === 13 ? 'create' : 'same') : 'same';
    if (kind === 'create') continue;
    const digest = `digest-${i}`;
    if (kind === 'update') {
      const old = { ...entry, spec: { ...entry.spec, version: 'v1.2.0' } };
      const state = instanceState(name, { digest, applied: appliedSpec(old, C0, digest), phase: 'Ready' });
      states[name] = state;
      items.push(upToDateItem(old, C0, state, runtime === 'docker' ? { imageId: IMAGE_V12 } : {}));
    } else {
      const state = instanceState(name, { digest, applied: appliedSpec(entry, C1, digest), phase: 'Ready' });
      states[name] = state;
      items.push(upToDateItem(entry, C1, state, runtime === 'docker' ? { imageId: IMAGE_V13 } : {}));
    }
  }
  const cat = releases({
    resolutions: { 'v1.2.0': resolved('v1.2.0', C0), 'v1.3.0': resolved('v1.3.0', C1) },
    built: [built('v1.2.0', C0, { imageId: IMAGE_V12 }), built('v1.3.0', C1, { imageId: IMAGE_V13 })],
  });
  return { desired: desired(entries), observed: observed(items, { images: [IMAGE_V12, IMAGE_V13] }), releases: cat, states };
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function main(): Promise<void> {
  const [sizeArg, workloadArg, repsArg] = process.argv.slice(2);
  const size = Number(sizeArg);
  const workload = workloadArg as Workload;
  const reps = Number(repsArg ?? 5);
  const { plan } = (await import(pathToFileURL(join(findRepo(), 'dist', 'planner', 'plan.js')).href)) as typeof import('../../src/planner/plan.js');

  gc();
  const rssStartBytes = process.memoryUsage().rss;
  const heapStart = process.memoryUsage().heapUsed;
  const input = inputs(size, workload);
  gc();
  const heapInputs = process.memoryUsage().heapUsed;
  let t = performance.now();
  const first = plan(input.desired, input.observed, input.releases, input.states);
  const firstMs = performance.now() - t;
  gc();
  const heapWithPlan = process.memoryUsage().heapUsed;
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;

  for (let w = 0; w < 2; w++) plan(input.desired, input.observed, input.releases, input.states);
  const ms: number[] = [];
  const cpuMs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const cpu = process.cpuUsage();
    t = performance.now();
    plan(input.desired, input.observed, input.releases, input.states);
    ms.push(performance.now() - t);
    const used = process.cpuUsage(cpu);
    cpuMs.push((used.user + used.system) / 1000);
  }
  const result: ChildResult = {
    size, workload, firstMs, ms, cpuMs, rssStartBytes, peakRssBytes,
    inputsHeapBytes: heapInputs - heapStart, planHeapBytes: heapWithPlan - heapInputs,
    summary: first.summary, actions: first.actions.length,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
