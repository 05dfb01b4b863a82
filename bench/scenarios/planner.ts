// Scenario "planner": the pure planner alone on 100 / 1,000 / 10,000 synthetic instances, one child process
// per size and workload (time per call, ns per instance, peak RSS, heap held by inputs and by the plan).
import { fileURLToPath } from 'node:url';
import type { BenchContext } from '../lib/context.js';
import { timedOk } from '../lib/proc.js';
import { section, verdict, type Section } from '../lib/report.js';
import { fmt, median, num } from '../lib/stats.js';
import type { ChildResult, Workload } from './planner-child.js';

const CHILD = fileURLToPath(new URL('./planner-child.js', import.meta.url));
const MB = 2 ** 20;

export async function runPlanner(ctx: BenchContext): Promise<Section> {
  const s = section('planner', 'Planner alone (pure `plan()`, synthetic instances)');
  const reps = Math.max(5, ctx.scale.reps);
  const results: ChildResult[] = [];
  for (const workload of ['converged', 'mixed'] as Workload[]) {
    for (const size of ctx.scale.plannerSizes) {
      ctx.log(`planner: ${size} instances, ${workload}`);
      const r = await timedOk(process.execPath, ['--expose-gc', CHILD, String(size), workload, String(reps)]);
      results.push(JSON.parse(r.stdout) as ChildResult);
    }
  }
  s.notes.push(
    `Each row is a fresh \`node --expose-gc\` process that builds the inputs in memory (instances spread over systemd, Docker and tmux), `
    + `calls \`plan()\` from \`dist/planner/plan.js\` once (the "first call", cold JIT; peak memory is read after it), `
    + `twice more to warm up, then ${reps} timed times. *converged*: every instance up to date (what a no-op resync plans). `
    + '*mixed*: per 20 instances one version bump and one new instance, the rest up to date.',
    'Peak RSS is the process\'s `maxRSS` (a bare Node process is the "RSS at start" column); heap figures are `heapUsed` after a forced GC: '
    + 'what the inputs hold, and what the returned plan holds.',
  );
  const smallest = Math.min(...ctx.scale.plannerSizes);
  s.tables.push({
    columns: ['instances', 'workload', 'plan() wall time', 'CPU time', 'ns / instance (median wall)', 'first call', 'peak RSS', 'RSS at start', 'heap: inputs', 'heap: plan', 'plan summary'],
    rows: results.map((r) => [
      r.size.toLocaleString('en-US'), r.workload, fmt(r.ms, 'ms'), fmt(r.cpuMs, 'ms'), num((median(r.ms) * 1e6) / r.size), `${num(r.firstMs)} ms`,
      `${num(r.peakRssBytes / MB)} MB`, `${num(r.rssStartBytes / MB)} MB`, `${num(r.inputsHeapBytes / MB)} MB`, `${num(r.planHeapBytes / MB)} MB`,
      Object.entries(r.summary).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ') + `; ${r.actions} actions`,
    ]),
  });
  const linear: string[][] = [];
  for (const workload of ['converged', 'mixed'] as Workload[]) {
    const base = results.find((r) => r.workload === workload && r.size === smallest);
    for (const r of results.filter((x) => x.workload === workload && x.size !== smallest)) {
      const perBase = median(base!.ms) / base!.size;
      const per = median(r.ms) / r.size;
      linear.push([workload, `${smallest} → ${r.size}`, `${num(r.size / smallest)}x`, `${num(median(r.ms) / median(base!.ms))}x`, `${num(per / perBase)}`]);
    }
  }
  if (linear.length > 0) {
    s.tables.push({
      caption: 'Linearity: time grows with the instance count (a ratio of ns/instance near 1 is linear; JIT and GC make small sizes noisy).',
      columns: ['workload', 'sizes', 'instances ×', 'time ×', 'ns/instance ratio'],
      rows: linear,
    });
  }
  const big = results.find((r) => r.size === 10000 && r.workload === 'converged');
  const bigMixed = results.find((r) => r.size === 10000 && r.workload === 'mixed');
  s.targets.push(big && bigMixed
    ? ['planner on 10,000 instances under 200 ms', `${num(median(big.ms))} ms converged, ${num(median(bigMixed.ms))} ms mixed`, verdict(median(big.ms) < 200 && median(bigMixed.ms) < 200)]
    : ['planner on 10,000 instances under 200 ms', 'not run at this scale', '—']);
  s.raw = { reps, results };
  return s;
}
