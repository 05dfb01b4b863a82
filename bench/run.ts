// `npm run bench [-- [--quick] [--reps N] [--out FILE] [--list] [scenario ...]]`: runs the selected scenarios
// (default: all) on this machine and writes bench/RESULTS.md (and the raw samples to bench/RESULTS.json).
// Scale: BENCH_QUICK=1 (or --quick), BENCH_REPS, BENCH_PLANNER_SIZES, BENCH_DRYRUN_SIZES, BENCH_COMPOSE_COUNT,
// BENCH_TEND_CONCURRENCY. Everything a scenario creates carries a unique name and is removed even on failure.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { load1, machineFacts, type MachineFacts } from './lib/machine.js';
import { makeContext, scaleFrom, type BenchContext, type Scale } from './lib/context.js';
import { renderSection, renderTable, section, TARGET_COLUMNS, type Section } from './lib/report.js';
import { SCENARIOS } from './scenarios/index.js';

interface Args {
  ids: string[];
  quick: boolean;
  reps?: number;
  out?: string;
  list: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { ids: [], quick: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--list') a.list = true;
    else if (x === '--reps') a.reps = Number(argv[++i]);
    else if (x.startsWith('--reps=')) a.reps = Number(x.slice(7));
    else if (x === '--out') a.out = argv[++i];
    else if (x.startsWith('--out=')) a.out = x.slice(6);
    else if (x.startsWith('-')) throw new Error(`unknown option ${x}`);
    else a.ids.push(x);
  }
  if (a.reps !== undefined && !(Number.isInteger(a.reps) && a.reps > 0)) throw new Error('--reps wants a positive integer');
  const unknown = a.ids.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.id).join(', ')})`);
  return a;
}

/** The commit measured: `git rev-parse` (marked when src/ has uncommitted changes), else BENCH_COMMIT, else unknown. */
async function commitOf(repo: string): Promise<string> {
  const head = await execa('git', ['-C', repo, 'rev-parse', '--short=12', 'HEAD'], { reject: false, stdin: 'ignore' });
  if (head.exitCode !== 0) return process.env.BENCH_COMMIT || 'unknown (not a git checkout)';
  const dirty = await execa('git', ['-C', repo, 'status', '--porcelain', '--', 'src', 'package.json'], { reject: false, stdin: 'ignore' });
  return `${String(head.stdout).trim()}${String(dirty.stdout).trim() ? ' with uncommitted changes in src/' : ''}`;
}

function header(scale: Scale, facts: MachineFacts, commit: string, ran: string[], loads: [number, number], started: Date, minutes: number): string {
  const lines = ['# tend benchmarks', ''];
  if (scale.quick) {
    lines.push('> **Quick run** (`BENCH_QUICK=1`): reduced scale and repetitions, to prove the bench runs end to end. '
      + 'These are not the final figures; the final run uses `npm run bench` on a quiet machine.', '');
  }
  lines.push(
    `Written by \`npm run bench\` (bench/run.ts) on ${started.toISOString().replace(/\.\d+Z$/, 'Z')}, ${minutes.toFixed(1)} min, measuring tend ${commit}. `
    + `Scenarios run: ${ran.join(', ')}. Repetitions per figure: ${scale.reps} (planner: ${Math.max(5, scale.reps)}). `
    + `Each figure is the median with the min–max spread and the number of runs; ratios are computed pair by pair `
    + '(the two measurements of one repetition, taken back to back) and then summarized the same way.',
    '',
    `Load average (1 min) at start ${load1Text(loads[0])}, at end ${load1Text(loads[1])} on ${facts.cores} cores: a load near or above the core count means a busy machine and noisy figures.`,
    '',
    '## Machine',
    '',
    renderTable({
      columns: ['', ''],
      rows: [
        ['CPU', facts.cpu], ['cores', String(facts.cores)], ['RAM', `${facts.ramGiB} GiB`], ['OS', facts.os], ['kernel', facts.kernel],
        ['Node', facts.node], ['Docker', facts.docker], ['docker-compose', facts.dockerCompose], ['systemd', facts.systemd],
        ['tmux', facts.tmux], ['strace (spawn counts)', facts.strace],
      ],
    }),
    '',
  );
  return lines.join('\n');
}

const load1Text = (x: number) => x.toFixed(2);

async function runOne(ctx: BenchContext, id: string): Promise<Section> {
  const sc = SCENARIOS.find((s) => s.id === id)!;
  if (!sc.run) return sc.pending!();
  const t0 = Date.now();
  try {
    const s = await sc.run(ctx);
    ctx.log(`${id}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return s;
  } catch (e) {
    ctx.log(`${id}: FAILED: ${(e as Error).stack ?? String(e)}`);
    const s = section(id, sc.title, 'failed');
    s.notes.push('```', String((e as Error).message ?? e).slice(0, 4000), '```');
    return s;
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.id.padEnd(16)} ${s.title}\n`);
    return 0;
  }
  process.env.XDG_RUNTIME_DIR ||= `/run/user/${process.getuid?.() ?? 0}`;
  const scale = scaleFrom(process.env, args.quick, args.reps);
  const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  const ctx = makeContext(scale, log);
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      log(`${sig}: removing what the bench made`);
      void ctx.cleanups.runAll().finally(() => process.exit(130));
    });
  }
  const started = new Date();
  const loadStart = load1();
  const ids = args.ids.length > 0 ? SCENARIOS.map((s) => s.id).filter((id) => args.ids.includes(id)) : SCENARIOS.map((s) => s.id);
  log(`scale: ${JSON.stringify(scale)}; scenarios: ${ids.join(', ')}`);
  const sections: Section[] = [];
  try {
    for (const id of ids) {
      log(`${id}: start`);
      sections.push(await runOne(ctx, id));
    }
  } finally {
    await ctx.cleanups.runAll();
  }
  const facts = await machineFacts();
  const minutes = (Date.now() - started.getTime()) / 60_000;
  const targets = sections.flatMap((s) => s.targets.map((t) => [...t.slice(0, 2), t[2]!, s.title]));
  const summary = targets.length > 0
    ? ['## Targets at a glance', '', 'From issue 8; reported against, never asserted (tests hold no timing assertions).', '',
      renderTable({ columns: [...TARGET_COLUMNS, 'section'], rows: targets }), ''].join('\n')
    : '';
  const commit = await commitOf(ctx.repo);
  const md = [header(scale, facts, commit, ids, [loadStart, load1()], started, minutes), summary, ...sections.map(renderSection)].join('\n');
  const out = args.out ?? join(ctx.repo, 'bench', 'RESULTS.md');
  writeFileSync(out, `${md.trimEnd()}\n`);
  writeFileSync(out.replace(/\.md$/, '') + '.json', `${JSON.stringify({
    startedAt: started.toISOString(), commit, scale, facts, load: [loadStart, load1()],
    sections: sections.map((s) => ({ id: s.id, status: s.status, targets: s.targets, raw: s.raw })),
  }, null, 2)}\n`);
  log(`wrote ${out}`);
  return sections.some((s) => s.status === 'failed') ? 1 : 0;
}

process.exitCode = await main();
