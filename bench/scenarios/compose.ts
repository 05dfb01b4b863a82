// Scenario "compose": tend against Debian's docker-compose on N containers (default 30) of one local image
// (the fixture app's release image: static busybox from scratch, PID 1 traps SIGTERM so no figure is a stop
// timeout) with per-container env and ports. Per tool: cold converge from nothing, a no-op run, a converge
// after one container's env changed; tend/compose ratios pair by pair.
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { engine, removeContainersLabelled } from '../../test/helpers/docker.js';
import { BUILTIN_CONFIG } from '../../src/spec/config.js';
import type { BenchContext } from '../lib/context.js';
import { timedOk } from '../lib/proc.js';
import { section, verdict, type Section } from '../lib/report.js';
import { createRoot, uniquePort } from '../lib/root.js';
import { fmt, fmtRatio, median, num, ratios } from '../lib/stats.js';

type Figure = 'cold' | 'noop' | 'change';
const FIGURES: Figure[] = ['cold', 'noop', 'change'];
const LABEL: Record<Figure, string> = {
  cold: 'cold converge from nothing',
  noop: 'no-op run, all converged',
  change: 'converge after one container\'s env changed',
};

/** docker-compose on PATH, else installed with apt-get (Debian's package) when running as root. */
async function ensureCompose(log: (m: string) => void): Promise<string> {
  const version = async () => {
    const r = await execa('docker-compose', ['version', '--short'], { reject: false, stdin: 'ignore' });
    return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
  };
  const have = await version();
  if (have) return have;
  if (process.getuid?.() !== 0) throw new Error('docker-compose is not installed (apt-get install -y docker-compose, as root)');
  log('compose: installing Debian\'s docker-compose with apt-get');
  const apt = (args: string[]) => execa('apt-get', args, { reject: false, stdin: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  let r = await apt(['install', '-y', '--no-install-recommends', 'docker-compose']);
  if (r.exitCode !== 0) {
    await apt(['update']);
    r = await apt(['install', '-y', '--no-install-recommends', 'docker-compose']);
  }
  const got = await version();
  if (!got) throw new Error(`apt-get install docker-compose failed: ${String(r.stderr).slice(-2000)}`);
  return got;
}

const pad = (i: number) => String(i).padStart(2, '0');

/** docker-compose.yml (format 2.4, understood by compose v1 and v2) mirroring what tend makes of a desired file. */
function composeFile(image: string, app: string, ports: number[], dataDir: string, changed: boolean): string {
  const lines = ['version: "2.4"', 'services:'];
  ports.forEach((port, i) => {
    lines.push(
      `  s${pad(i)}:`,
      `    image: ${image}`,
      '    command: ["--port", "8080"]',
      '    environment:',
      `      BENCH_SLOT: "${i}"`,
      `      BENCH_REV: "${i === 0 && changed ? 'b' : 'a'}"`,
      '    ports:',
      `      - "127.0.0.1:${port}:8080"`,
      '    restart: unless-stopped',
      '    network_mode: bridge',
      '    volumes:',
      `      - "${dataDir}/s${pad(i)}:/instance"`,
      '    labels:',
      `      bench.app: "${app}"`,
    );
  });
  return `${lines.join('\n')}\n`;
}

async function runningCount(label: string): Promise<number> {
  return (await engine().listContainers({ filters: { label: [label], status: ['running'] } })).length;
}

/** Container ids by name, of the containers carrying `label`. */
async function idsOf(label: string): Promise<Map<string, string>> {
  const list = await engine().listContainers({ all: true, filters: { label: [label] } });
  return new Map(list.map((c) => [c.Names[0] ?? c.Id, c.Id]));
}

/** How many containers of `before` are gone or were replaced in `after` (by name). */
function replaced(before: Map<string, string>, after: Map<string, string>): number {
  return [...before].filter(([name, id]) => after.get(name) !== id).length;
}

async function envOf(container: string, key: string): Promise<string | undefined> {
  const info = await engine().getContainer(container).inspect();
  return info.Config.Env.find((e) => e.startsWith(`${key}=`))?.slice(key.length + 1);
}

/** Polls GET /health on every port until each answers 200. */
async function allHealthy(ports: number[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(ports);
  while (pending.size > 0) {
    await Promise.all([...pending].map(async (p) => {
      const ok = await fetch(`http://127.0.0.1:${p}/health`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
      if (ok) pending.delete(p);
    }));
    if (pending.size === 0) return;
    if (Date.now() > deadline) throw new Error(`ports ${[...pending].join(', ')} not healthy after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function runCompose(ctx: BenchContext): Promise<Section> {
  const s = section('compose', `tend against docker-compose (${ctx.scale.composeCount} containers)`);
  const n = ctx.scale.composeCount;
  const composeVersion = await ensureCompose(ctx.log);
  const root = await createRoot(ctx, { runtimes: ['docker'], concurrency: ctx.scale.tendConcurrency, label: 'compose' });
  const project = `${root.app}c`;
  const projectLabel = `com.docker.compose.project=${project}`;
  const removeCompose = ctx.cleanups.add(`compose project ${project}`, () => removeContainersLabelled(engine(), [projectLabel]));
  const tendMs: Record<Figure, number[]> = { cold: [], noop: [], change: [] };
  const composeMs: Record<Figure, number[]> = { cold: [], noop: [], change: [] };
  const composeHealthyMs: Record<'cold' | 'change', number[]> = { cold: [], change: [] };
  let buildMs = NaN;
  const concurrency = ctx.scale.tendConcurrency ? `agent.concurrency ${ctx.scale.tendConcurrency}` : `agent.concurrency ${BUILTIN_CONFIG.agent.concurrency}, tend's default`;
  try {
    ctx.log(`compose: building release v1.0.0 of ${root.app}`);
    buildMs = (await root.tend(['releases', 'build', 'v1.0.0'])).ms;
    const manifest = JSON.parse(readFileSync(join(root.dir, 'releases', 'v1.0.0', 'manifest.json'), 'utf8')) as { image?: { id: string } };
    if (!manifest.image?.id) throw new Error('release v1.0.0 has no image');
    const composeImage = `${root.app}:compose`;
    await engine().getImage(manifest.image.id).tag({ repo: root.app, tag: 'compose' });

    const tendPorts: number[] = [];
    const composePorts: number[] = [];
    for (let i = 0; i < n; i++) tendPorts.push(await uniquePort());
    for (let i = 0; i < n; i++) composePorts.push(await uniquePort());
    const desire = (changed: boolean) => tendPorts.forEach((port, i) => root.writeInstance(`i${pad(i)}`, {
      runtime: 'docker', port, env: { BENCH_SLOT: String(i), BENCH_REV: i === 0 && changed ? 'b' : 'a' },
    }));
    const cdir = join(root.dir, 'compose');
    mkdirSync(join(cdir, 'data'), { recursive: true });
    const cfile = join(cdir, 'docker-compose.yml');
    const compose = (args: string[]) => timedOk('docker-compose', ['--ansi', 'never', '-p', project, '-f', cfile, ...args], { cwd: cdir });
    const composeUp = () => compose(['up', '-d']);

    const tendRound = async () => {
      desire(false);
      tendMs.cold.push((await root.tend(['reconcile'])).ms);
      if ((await runningCount(`tend.app=${root.app}`)) !== n) throw new Error(`tend: not ${n} containers running after cold converge`);
      const ids = await idsOf(`tend.app=${root.app}`);
      tendMs.noop.push((await root.tend(['reconcile'])).ms);
      const idsNoop = await idsOf(`tend.app=${root.app}`);
      if (replaced(ids, idsNoop) !== 0) throw new Error('tend: the no-op run replaced containers');
      desire(true);
      tendMs.change.push((await root.tend(['reconcile'])).ms);
      if ((await envOf(`${root.app}-i00`, 'BENCH_REV')) !== 'b') throw new Error('tend: the env change did not reach the container');
      if ((await runningCount(`tend.app=${root.app}`)) !== n) throw new Error(`tend: not ${n} containers running after the change`);
      if (replaced(idsNoop, await idsOf(`tend.app=${root.app}`)) !== 1) throw new Error('tend: the change replaced other containers than the changed one');
      await root.stopAll();
      rmSync(join(root.dir, 'instances'), { recursive: true, force: true });
    };
    const composeRound = async () => {
      writeFileSync(cfile, composeFile(composeImage, root.app, composePorts, join(cdir, 'data'), false));
      let t0 = performance.now();
      composeMs.cold.push((await composeUp()).ms);
      await allHealthy(composePorts);
      composeHealthyMs.cold.push(performance.now() - t0);
      if ((await runningCount(projectLabel)) !== n) throw new Error(`compose: not ${n} containers running after cold converge`);
      const ids = await idsOf(projectLabel);
      composeMs.noop.push((await composeUp()).ms);
      const idsNoop = await idsOf(projectLabel);
      if (replaced(ids, idsNoop) !== 0) throw new Error('compose: the no-op run replaced containers');
      writeFileSync(cfile, composeFile(composeImage, root.app, composePorts, join(cdir, 'data'), true));
      t0 = performance.now();
      const change = await composeUp();
      composeMs.change.push(change.ms);
      await allHealthy([composePorts[0]!]);
      composeHealthyMs.change.push(performance.now() - t0);
      if ((await envOf(`${project}_s00_1`, 'BENCH_REV')) !== 'b') throw new Error('compose: the env change did not reach the container');
      if (replaced(idsNoop, await idsOf(projectLabel)) !== 1) throw new Error('compose: the change replaced other containers than the changed one');
      await removeContainersLabelled(engine(), [projectLabel]);
      rmSync(join(cdir, 'data'), { recursive: true, force: true });
    };

    ctx.log('compose: warm-up round (not timed)');
    await tendRound();
    await composeRound();
    for (const f of FIGURES) {
      tendMs[f].length = 0;
      composeMs[f].length = 0;
    }
    composeHealthyMs.cold.length = 0;
    composeHealthyMs.change.length = 0;
    for (let r = 0; r < ctx.scale.reps; r++) {
      ctx.log(`compose: repetition ${r + 1}/${ctx.scale.reps}`);
      if (r % 2 === 0) {
        await tendRound();
        await composeRound();
      } else {
        await composeRound();
        await tendRound();
      }
    }
  } finally {
    await removeCompose();
    await root.destroy();
  }

  s.notes.push(
    `${n} containers of one local image: the fixture app's release image (static busybox in a \`FROM scratch\` image; PID 1 is a shell that `
    + 'exits on SIGTERM at once, so no figure contains a stop timeout). Each container gets its own env (`BENCH_SLOT`, `BENCH_REV`) and host port, '
    + 'a bind mount at /instance, restart policy unless-stopped, the default bridge network.',
    `tend: \`tend reconcile\` over ${n} \`runtime: docker\` desired files (${concurrency}); the release (build.sh, image saved to `
    + `releases/v1.0.0/container-image.tar) was built before timing, once, in ${num(buildMs / 1000)} s. tend's converge includes its health check `
    + '(HTTP GET /health, the default), records status and history, and returns when every instance is healthy.',
    `docker-compose ${composeVersion} (Debian's package): \`docker-compose -p P -f docker-compose.yml up -d\` with the same image (already in the `
    + 'Engine, tagged for compose) and the same settings (`network_mode: bridge`). compose does not wait for health; the row "until healthy" adds '
    + 'polling every /health until it answers 200, for a like-for-like view of the converge figures.',
    'A repetition runs all three figures for one tool, removes its containers (and for tend its instances/ folder), then does the same for the other tool; '
    + 'the order alternates between repetitions, after one untimed warm-up round each. "No-op" is the same command again with nothing changed; '
    + '"one change" edits `BENCH_REV` of the first container (one desired file, one compose service). Checked each time (untimed): '
    + 'all containers running, the no-op replaced none, the change replaced exactly one and its env holds the new value.',
  );
  const row = (f: Figure) => [LABEL[f], fmt(tendMs[f], 'ms'), fmt(composeMs[f], 'ms'), fmtRatio(ratios(tendMs[f], composeMs[f])), fmtRatio(ratios(composeMs[f], tendMs[f]))];
  s.tables.push({
    columns: ['figure', 'tend', 'docker-compose', 'tend / compose', 'compose / tend'],
    rows: [
      ...FIGURES.map(row),
      ['cold converge, compose until all /health answer 200', fmt(tendMs.cold, 'ms'), fmt(composeHealthyMs.cold, 'ms'),
        fmtRatio(ratios(tendMs.cold, composeHealthyMs.cold)), fmtRatio(ratios(composeHealthyMs.cold, tendMs.cold))],
      ['one change, compose until it answers 200', fmt(tendMs.change, 'ms'), fmt(composeHealthyMs.change, 'ms'),
        fmtRatio(ratios(tendMs.change, composeHealthyMs.change)), fmtRatio(ratios(composeHealthyMs.change, tendMs.change))],
    ],
  });
  const speedup = (f: Figure) => median(ratios(composeMs[f], tendMs[f]));
  s.targets.push(
    ['no-op at least 5x faster than docker-compose', `compose / tend ${num(speedup('noop'))}x`, verdict(speedup('noop') >= 5)],
    ['one-change converge at least 5x faster than docker-compose', `compose / tend ${num(speedup('change'))}x`, verdict(speedup('change') >= 5)],
    ['cold converge no slower than docker-compose', `tend / compose ${num(median(ratios(tendMs.cold, composeMs.cold)))}x`, verdict(median(ratios(tendMs.cold, composeMs.cold)) <= 1)],
  );
  s.raw = { count: n, composeVersion, buildMs, concurrency, tendMs, composeMs, composeHealthyMs };
  return s;
}
