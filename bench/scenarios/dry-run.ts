// Scenario "dry-run": `tend reconcile --dry-run` over converged instances split evenly over Docker, tmux and
// systemd user units (15 and 60): wall time against a bare `node -e 0` in the same run, process spawns
// (strace -f, else PATH shims) and Docker Engine API calls (a counting proxy on a unix socket).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { countingProxy } from '../../test/helpers/docker.js';
import type { BenchContext } from '../lib/context.js';
import { countSpawns, programsText, timed, type SpawnCount } from '../lib/proc.js';
import { section, verdict, type Section } from '../lib/report.js';
import { createRoot, growConverged, SPLIT, splitText } from '../lib/root.js';
import { fmt, fmtRatio, median, num, ratios } from '../lib/stats.js';

interface SizeResult {
  size: number;
  convergeMs: number;
  tendMs: number[];
  nodeMs: number[];
  versionMs: number[];
  ratio: number[];
  spawns: SpawnCount;
  api: Record<string, number>;
}

const countBy = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});
const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

export async function runDryRun(ctx: BenchContext): Promise<Section> {
  const s = section('dry-run', '`tend reconcile --dry-run` over converged instances (Docker, tmux, systemd user units)');
  const sizes = [...ctx.scale.dryRunSizes].sort((a, b) => a - b);
  const root = await createRoot(ctx, { runtimes: SPLIT, concurrency: 4, label: 'dryrun' });
  const results: SizeResult[] = [];
  let buildMs = NaN;
  try {
    ctx.log(`dry-run: building release v1.0.0 of ${root.app}`);
    buildMs = (await root.tend(['releases', 'build', 'v1.0.0'])).ms;
    let have = 0;
    for (const size of sizes) {
      ctx.log(`dry-run: converging ${size} instances`);
      const convergeMs = await growConverged(root, have, size);
      have = size;
      const dry = [process.execPath, [ctx.cli, '-C', root.dir, 'reconcile', '--dry-run']] as const;
      const env = { ...process.env, ...root.env };
      await timed(process.execPath, ['-e', '0']);
      await timed(process.execPath, [ctx.cli, '--version']);
      await timed(dry[0], [...dry[1]], { env });
      const tendMs: number[] = [];
      const nodeMs: number[] = [];
      const versionMs: number[] = [];
      for (let r = 0; r < ctx.scale.reps; r++) {
        const runs = [
          async () => nodeMs.push((await timed(process.execPath, ['-e', '0'])).ms),
          async () => versionMs.push((await timed(process.execPath, [ctx.cli, '--version'])).ms),
          async () => {
            const t = await timed(dry[0], [...dry[1]], { env });
            if (t.exitCode !== 0) throw new Error(`dry-run exited ${t.exitCode}: ${t.stderr}`);
            tendMs.push(t.ms);
          },
        ];
        // Rotate which command goes first, so a trend in the machine's load hits all three alike.
        for (let k = 0; k < runs.length; k++) await runs[(k + r) % runs.length]!();
      }
      const dir = join(root.dir, `count-${size}`);
      mkdirSync(dir, { recursive: true });
      const spawns = await countSpawns(dir, dry[0], [...dry[1]], { env });
      if (spawns.exitCode !== 0) throw new Error(`dry-run under ${spawns.method} exited ${spawns.exitCode}`);
      const proxy = await countingProxy(dir);
      try {
        const t = await timed(dry[0], [...dry[1]], { env: { ...env, DOCKER_HOST: `unix://${proxy.socketPath}` } });
        if (t.exitCode !== 0) throw new Error(`dry-run through the Engine proxy exited ${t.exitCode}: ${t.stderr}`);
      } finally {
        await proxy.close();
      }
      results.push({ size, convergeMs, tendMs, nodeMs, versionMs, ratio: ratios(tendMs, nodeMs), spawns, api: countBy(proxy.requests) });
    }
  } finally {
    await root.destroy();
  }

  s.notes.push(
    `One deployment root (the fixture app, release v1.0.0 built once in ${num(buildMs / 1000)} s), instances split evenly over `
    + `${SPLIT.join(', ')} (user scope) and converged with \`tend reconcile\` before timing; each size checked to plan \`unchanged\` for every instance. `
    + `Timed: \`node dist/cli/main.js -C ROOT reconcile --dry-run\` (text output), \`node -e 0\` and \`node dist/cli/main.js --version\`, rotating which goes first, one warm-up each; `
    + 'the ratio is taken per repetition. Spawns and Engine calls are counted in separate runs (strace and the proxy slow a run down).',
    `Sizes: ${sizes.map((n) => `${n} (${splitText(n)})`).join('; ')}.`,
  );
  const col = (f: (r: SizeResult) => string) => results.map(f);
  s.tables.push({
    columns: ['figure', ...results.map((r) => `${r.size} instances`)],
    rows: [
      ['`tend reconcile --dry-run` wall time', ...col((r) => fmt(r.tendMs, 'ms'))],
      ['`node -e 0` wall time', ...col((r) => fmt(r.nodeMs, 'ms'))],
      ['ratio tend / node -e 0', ...col((r) => fmtRatio(r.ratio))],
      ['`tend --version` wall time (the CLI\'s start-up: modules loaded, nothing observed)', ...col((r) => fmt(r.versionMs, 'ms'))],
      [`process spawns (${results[0]?.spawns.method ?? 'n/a'})`, ...col((r) => `${r.spawns.total}: ${programsText(r.spawns.byProgram)}`)],
      ['Docker Engine API calls', ...col((r) => `${total(r.api)}: ${programsText(r.api)}`)],
      ['set-up: `tend reconcile` converging the new instances (n=1)', ...col((r) => `${num(r.convergeMs / 1000)} s`)],
    ],
  });
  const last = results[results.length - 1];
  const constSpawns = results.every((r) => r.spawns.total === results[0]!.spawns.total);
  const constApi = results.every((r) => total(r.api) === total(results[0]!.api));
  if (last) {
    s.targets.push([
      `no-op dry-run over ${last.size} instances at most 2x \`node -e 0\``,
      `${num(median(last.ratio))}x (${num(median(last.tendMs))} ms against ${num(median(last.nodeMs))} ms)`,
      last.size === 60 ? verdict(median(last.ratio) <= 2) : `${verdict(median(last.ratio) <= 2)} (target is for 60)`,
    ]);
    s.targets.push([
      'spawns and Engine API calls constant as instances grow',
      `spawns ${results.map((r) => r.spawns.total).join(' / ')}, API calls ${results.map((r) => total(r.api)).join(' / ')} at ${results.map((r) => r.size).join(' / ')}`,
      results.length < 2 ? 'one size only' : verdict(constSpawns && constApi),
    ]);
  }
  s.raw = { buildMs, results };
  return s;
}
