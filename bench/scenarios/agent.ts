// Scenarios "agent-latency", "agent-rest", "agent-resync": `tend agent` as a real process on the real backends.
// - latency: a desired file saved → the first action starts / the new version is healthy (the agent's own log times);
// - rest: CPU (/proc/<pid>/stat, children included) and RSS (/proc/<pid>/status) of an idle agent over 60 converged instances;
// - resync: a no-op full resync inside the running agent (its `resync (...) in X ms` line, and /metrics), 15 and 60 instances.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { BUILTIN_CONFIG } from '../../src/spec/config.js';
import {
  childrenOf, clockTicks, fetchMetrics, isResync, metricValue, procMem, procTimes, startAgent, type AgentLine, type BenchAgent,
} from '../lib/agent.js';
import type { BenchContext } from '../lib/context.js';
import { section, verdict, type Section } from '../lib/report.js';
import { createRoot, growConverged, SPLIT, splitText, uniquePort } from '../lib/root.js';
import { fmt, median, num, spread } from '../lib/stats.js';

const MB = 2 ** 20;
const DEFAULTS = BUILTIN_CONFIG.agent;

// agent-latency ------------------------------------------------------------------------------------------------------

interface SaveSample {
  version: string;
  /** Date.now() right after writeFileSync returned. */
  savedAt: number;
  /** From the save to the agent's lines (ms, the agent's `time`). */
  noticed: number;
  firstAction: number;
  firstActionType: string;
  healthy: number;
  done: number;
  tries: number;
  /** Reconciles of this save that were cancelled by a later event of the same save. */
  cancelled: number;
}

/** One save of `desired/<name>.yaml` and the agent's lines about it, up to its `reconcile ok`. */
async function timedSave(agent: BenchAgent, write: () => void, name: string, version: string): Promise<SaveSample> {
  const from = agent.lines.length;
  write();
  const savedAt = Date.now();
  const done = await agent.waitFor(`${name}: reconcile (after the save of ${version})`,
    (l) => l.instance === name && /: reconcile (ok|failed|held|error)\b/.test(l.msg), { from, timeoutMs: 120_000 });
  if (done.result !== 'ok') throw new Error(`${name}: reconcile ${String(done.result)} after the save of ${version}: ${done.msg}`);
  const after = agent.lines.slice(from);
  const find = (what: string, f: (l: AgentLine) => boolean) => {
    const l = after.find(f);
    if (!l) throw new Error(`no line for ${what} after the save of ${version}:\n${after.map((x) => x.msg).join('\n')}`);
    return l;
  };
  const noticed = find('the change noticed', (l) => l.msg === `${name}: desired file changed`);
  const first = find('the first action', (l) => l.level === 20 && l.instance === name && / starting$/.test(l.msg));
  const healthy = find('health', (l) => l.msg.startsWith(`${name} healthy after `));
  return {
    version, savedAt,
    noticed: noticed.t - savedAt,
    firstAction: first.t - savedAt,
    firstActionType: /: (\S+) starting$/.exec(first.msg)?.[1] ?? '?',
    healthy: healthy.t - savedAt,
    done: done.t - savedAt,
    tries: Number(/healthy after (\d+) tr(?:y|ies)/.exec(healthy.msg)?.[1] ?? NaN),
    cancelled: after.filter((l) => l.instance === name && /: reconcile cancelled/.test(l.msg)).length,
  };
}

export async function runAgentLatency(ctx: BenchContext): Promise<Section> {
  const s = section('agent-latency', 'Agent: desired file saved → first action starts, → new version healthy');
  const saves = ctx.scale.agentSaves;
  const root = await createRoot(ctx, { runtimes: ['tmux'], label: 'latency' });
  const name = 'web';
  const samples: SaveSample[] = [];
  let setup = '';
  try {
    ctx.log(`agent-latency: building v1.0.0 and v1.1.0 of ${root.app}`);
    for (const v of ['v1.0.0', 'v1.1.0']) await root.tend(['releases', 'build', v]);
    const port = await uniquePort();
    const write = (version: string) => () => root.writeInstance(name, { runtime: 'tmux', port, version });
    write('v1.0.0')();
    await root.tend(['reconcile']);
    const agent = await startAgent(ctx, root, ['--log-level', 'debug']);
    try {
      const start = await agent.waitFor('the resync at start', isResync('start'), { timeoutMs: 120_000 });
      if (start.queued !== 0) throw new Error(`the resync at start queued ${String(start.queued)} instance(s): not converged`);
      // One untimed save first (the agent's first reconcile loads modules and warms up).
      ctx.log(`agent-latency: warm-up save, then ${saves} timed saves`);
      await timedSave(agent, write('v1.1.0'), name, 'v1.1.0');
      for (let i = 0; i < saves; i++) {
        await sleep(300);
        const version = i % 2 === 0 ? 'v1.0.0' : 'v1.1.0';
        samples.push(await timedSave(agent, write(version), name, version));
      }
      setup = `agent PID ${agent.pid}`;
    } finally {
      await agent.stop();
    }
  } finally {
    await root.destroy();
  }

  const col = (f: (x: SaveSample) => number) => samples.map(f);
  const types = [...new Set(samples.map((x) => x.firstActionType))].join(', ');
  s.notes.push(
    `One tmux instance of the fixture app (HTTP /health, tend's default health settings: a try every 1s, 30s deadline), releases v1.0.0 and v1.1.0 built before, `
    + `converged at v1.0.0 with \`tend reconcile\`; then \`tend agent --log-level debug\` (${setup || 'a real process'}) with tend's defaults `
    + `(\`agent.debounce\` ${DEFAULTS.debounce}, concurrency ${DEFAULTS.concurrency}). After one untimed warm-up save, ${saves} saves of desired/${name}.yaml `
    + 'alternating v1.0.0 / v1.1.0 (the file rewritten in place with writeFileSync, 300 ms apart, each after the previous reconcile ended).',
    'Save time: `Date.now()` in the bench right after the write returned. Every other time is the `time` of the agent\'s own JSON log line (pino, ms; the same clock): '
    + '`<name>: desired file changed` (the watcher\'s event, after the debounce), the executor\'s debug line `<name>: <action> starting` for the first action, '
    + '`<name> healthy after N tries`, and `<name>: reconcile ok`. '
    + `**The ${DEFAULTS.debounce} debounce is part of every figure** (a save is acted on only when no other event for the file came within it).`,
  );
  s.tables.push({
    columns: ['figure', `median (min–max, n=${samples.length})`, 'p90'],
    rows: [
      ['save → first action starts', fmt(col((x) => x.firstAction), 'ms'), `${num(spread(col((x) => x.firstAction)).p90)} ms`],
      ['  of which: save → change noticed (watcher, incl. the debounce)', fmt(col((x) => x.noticed), 'ms'), `${num(spread(col((x) => x.noticed)).p90)} ms`],
      ['  of which: change noticed → first action (reload desired, observe, plan, instance lock)', fmt(col((x) => x.firstAction - x.noticed), 'ms'), `${num(spread(col((x) => x.firstAction - x.noticed)).p90)} ms`],
      ['save → new version healthy', fmt(col((x) => x.healthy), 'ms'), `${num(spread(col((x) => x.healthy)).p90)} ms`],
      ['  of which: first action → healthy (stop, config, start, health checks)', fmt(col((x) => x.healthy - x.firstAction), 'ms'), `${num(spread(col((x) => x.healthy - x.firstAction)).p90)} ms`],
      ['save → the agent\'s `reconcile ok` (history, status, re-observe for the status view)', fmt(col((x) => x.done), 'ms'), `${num(spread(col((x) => x.done)).p90)} ms`],
      ['health-check tries until healthy', fmt(col((x) => x.tries)), `${num(spread(col((x) => x.tries)).p90)}`],
      ['first action', types || 'n/a', ''],
      ['reconciles cancelled by a second event of one save', String(col((x) => x.cancelled).reduce((a, b) => a + b, 0)), ''],
    ],
  });
  const m = median(col((x) => x.firstAction));
  s.targets.push([
    `save-to-first-action under 150 ms median (${DEFAULTS.debounce} debounce included)`,
    `${num(m)} ms${samples.length < 20 ? ` (n=${samples.length}; the target is for 20 saves)` : ''}`,
    verdict(m < 150),
  ]);
  s.raw = { samples };
  return s;
}

// agent-rest ---------------------------------------------------------------------------------------------------------

interface RestTick {
  /** performance.now() */
  at: number;
  self: number;
  children: number;
  rssKiB: number;
  hwmKiB: number;
  kids: number[];
}

/** VmRSS of a bare Node process idling on a timer (what Node alone costs), read after 1 s; the process is then ended. */
async function idleNodeRss(ctx: BenchContext): Promise<number> {
  const p = execa(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { reject: false, stdin: 'ignore' });
  const pid = p.pid!;
  const end = ctx.cleanups.add(`idle node pid ${pid}`, async () => {
    p.kill('SIGKILL');
    await p;
  });
  try {
    await sleep(1000);
    return procMem(pid).rssKiB;
  } finally {
    await end();
  }
}

export async function runAgentRest(ctx: BenchContext): Promise<Section> {
  const s = section('agent-rest', `Agent at rest with ${ctx.scale.agentRestCount} instances: CPU and RSS`);
  const n = ctx.scale.agentRestCount;
  const seconds = ctx.scale.agentRestSeconds;
  const settleS = ctx.scale.quick ? 3 : 10;
  const hz = await clockTicks();
  const bareNodeKiB = await idleNodeRss(ctx);
  const root = await createRoot(ctx, { runtimes: SPLIT, concurrency: 4, label: 'rest' });
  const ticks: RestTick[] = [];
  let window: AgentLine[] = [];
  let startResync: AgentLine | undefined;
  let wallStart = 0;
  let wallEnd = 0;
  let convergeMs = NaN;
  let pid = 0;
  try {
    ctx.log(`agent-rest: building v1.0.0 and converging ${n} instances`);
    await root.tend(['releases', 'build', 'v1.0.0']);
    convergeMs = await growConverged(root, 0, n);
    // tend.yaml's agent settings are tend's defaults, except concurrency (4, only used for the set-up converge above).
    const yaml = join(root.dir, 'tend.yaml');
    const text = readFileSync(yaml, 'utf8').replace(/^agent:\n {2}concurrency: 4\n/m, '');
    if (/^agent:/m.test(text)) throw new Error('tend.yaml still has an agent: block');
    writeFileSync(yaml, text);
    const agent = await startAgent(ctx, root);
    pid = agent.pid;
    try {
      startResync = await agent.waitFor('the resync at start', isResync('start'), { timeoutMs: 300_000 });
      if (startResync.queued !== 0) throw new Error(`the resync at start queued ${String(startResync.queued)} instance(s): not converged`);
      await sleep(settleS * 1000);
      ctx.log(`agent-rest: sampling agent ${pid} for ${seconds} s`);
      const sample = (): RestTick => {
        const at = performance.now();
        const t = procTimes(pid);
        const m = procMem(pid);
        return { at, ...t, ...m, kids: childrenOf(pid) };
      };
      wallStart = Date.now();
      const t0 = performance.now();
      ticks.push(sample());
      for (let k = 1; k <= seconds; k++) {
        await sleep(Math.max(0, t0 + k * 1000 - performance.now()));
        ticks.push(sample());
      }
      wallEnd = Date.now();
      window = agent.lines.filter((l) => l.t >= wallStart && l.t <= wallEnd);
    } finally {
      await agent.stop();
    }
  } finally {
    await root.destroy();
  }

  const first = ticks[0]!;
  const last = ticks[ticks.length - 1]!;
  const span = (last.at - first.at) / 1000;
  const share = (a: RestTick, b: RestTick, key: 'self' | 'children' | 'both') => {
    const d = key === 'both' ? b.self + b.children - a.self - a.children : b[key] - a[key];
    return (100 * d) / hz / ((b.at - a.at) / 1000);
  };
  const total = share(first, last, 'both');
  const sliceS = seconds >= 30 ? 10 : 2;
  const slices: number[] = [];
  for (let k = sliceS; k < ticks.length; k += sliceS) slices.push(share(ticks[k - sliceS]!, ticks[k]!, 'both'));
  const rss = ticks.map((t) => t.rssKiB * 1024 / MB);
  const kids = new Set(ticks.flatMap((t) => t.kids));
  const resyncs = window.filter(isResync());
  s.notes.push(
    `${n} instances (${splitText(n)}, user scope) of the fixture app converged with \`tend reconcile\` (${num(convergeMs / 1000)} s), then \`tend agent\` started `
    + `with **tend's defaults**: \`agent.resync\` \`${DEFAULTS.resync}\` (a full resync every 5 minutes, on the clock), log caps checked every ${DEFAULTS.logs.interval}, `
    + `git pull off, log level info. After its resync at start (${startResync ? `${String(startResync.ms)} ms, nothing queued` : 'n/a'}) and ${settleS} s more, `
    + `the agent is sampled once a second for ${seconds} s from /proc (nothing else talks to it meanwhile: no status requests, no file changes).`,
    `CPU: utime+stime of the agent plus cutime+cstime (its children that ended and were reaped in the window) from /proc/${'<pid>'}/stat, over the window's wall time, `
    + `at ${hz} ticks/s (resolution ${num(100 / hz / seconds)}% of a core over the whole window); the spread is over ${sliceS}-s slices. `
    + 'RSS: VmRSS from /proc/<pid>/status at each sample; VmHWM is the peak since the agent started (its start-up and first resync included). MB = 2^20 bytes.',
    resyncs.length > 0
      ? `A scheduled resync fell into the window (${resyncs.map((l) => `${String(l.ms)} ms`).join(', ')}): it is part of these figures.`
      : 'No scheduled resync fell into the window (every 5 minutes by default); one costs what the agent-resync section shows.',
  );
  s.tables.push({
    columns: ['figure', 'value'],
    rows: [
      [`CPU over ${num(span)} s, share of one core (agent + children)`, `${num(total)}%`],
      ['  the agent process itself', `${num(share(first, last, 'self'))}%`],
      ['  children it started (ended within the window)', `${num(share(first, last, 'children'))}%`],
      ['  CPU time in the window (agent + children)', `${last.self + last.children - first.self - first.children} ticks = ${num((1000 * (last.self + last.children - first.self - first.children)) / hz)} ms`],
      [`CPU per ${sliceS}-s slice`, fmt(slices, '%').replace(/ %/g, '%')],
      ['RSS during the window (one sample a second)', fmt(rss, 'MB')],
      ['RSS peak since start (VmHWM at the end)', `${num(last.hwmKiB * 1024 / MB)} MB`],
      ['for scale: RSS of a bare idle `node -e` process (same Node)', `${num(bareNodeKiB * 1024 / MB)} MB`],
      ['child processes seen alive at a sample', kids.size === 0 ? 'none' : String(kids.size)],
      ['log lines written in the window', String(window.length)],
    ],
  });
  const rssMax = Math.max(...rss);
  s.targets.push([
    `agent at rest (${n} instances) under 1% of one core`,
    `${num(total)}% over ${num(span)} s${n !== 60 ? ' (the target is for 60 instances)' : ''}`,
    verdict(total < 1),
  ]);
  s.targets.push([
    `agent at rest (${n} instances) under 120 MB RSS`,
    `${num(median(rss))} MB (max ${num(rssMax)} MB in the window; peak since start ${num(last.hwmKiB * 1024 / MB)} MB)`,
    verdict(rssMax < 120),
  ]);
  s.raw = { hz, seconds, settleS, convergeMs, ticks: ticks.map(({ kids: k, ...t }) => ({ ...t, kids: k.length })), window: window.map((l) => l.msg) };
  return s;
}

// agent-resync -------------------------------------------------------------------------------------------------------

interface ResyncResult {
  size: number;
  convergeMs: number;
  startMs: number;
  /** The agent's `ms` of each no-op scheduled resync. */
  ms: number[];
  /** Scheduled resyncs that queued work (left out of ms). */
  notNoop: number;
  /** Mean over the same resyncs from tend_resync_duration_seconds _sum/_count, in ms. */
  metricMeanMs: number;
  metricCount: number;
}

const RESYNC_CRON = '*/2 * * * * *';

export async function runAgentResync(ctx: BenchContext): Promise<Section> {
  const s = section('agent-resync', 'Agent: no-op resync inside the running agent');
  const sizes = [...ctx.scale.agentResyncSizes].sort((a, b) => a - b);
  const want = ctx.scale.agentResyncs;
  const root = await createRoot(ctx, { runtimes: SPLIT, concurrency: 4, agent: [`resync: "${RESYNC_CRON}"`], label: 'resync' });
  const results: ResyncResult[] = [];
  try {
    ctx.log(`agent-resync: building v1.0.0 of ${root.app}`);
    await root.tend(['releases', 'build', 'v1.0.0']);
    let have = 0;
    for (const size of sizes) {
      ctx.log(`agent-resync: converging ${size} instances`);
      const convergeMs = await growConverged(root, have, size);
      have = size;
      const agent = await startAgent(ctx, root);
      try {
        const start = await agent.waitFor('the resync at start', isResync('start'), { timeoutMs: 300_000 });
        if (start.queued !== 0) throw new Error(`the resync at start queued ${String(start.queued)} instance(s): not converged`);
        // Scrape right after a resync ended, so the request never overlaps one (the next is ~2 s away).
        const m0 = await fetchMetrics(agent);
        ctx.log(`agent-resync: ${size} instances, waiting for ${want} scheduled resyncs`);
        const got: AgentLine[] = [];
        let from = agent.lines.indexOf(start) + 1;
        while (got.length < want) {
          const l = await agent.waitFor('a scheduled resync', isResync('schedule'), { from, timeoutMs: 120_000 });
          got.push(l);
          from = agent.lines.indexOf(l) + 1;
        }
        const m1 = await fetchMetrics(agent);
        const d = (name: string) => metricValue(m1, name) - metricValue(m0, name);
        const others = agent.lines.slice(agent.lines.indexOf(start) + 1, from).filter((l) => isResync()(l) && l.why !== 'schedule');
        if (others.length > 0) ctx.log(`agent-resync: other resyncs in the window (${others.map((l) => l.why).join(', ')}): the /metrics mean includes them`);
        const noop = got.filter((l) => l.queued === 0);
        results.push({
          size, convergeMs, startMs: Number(start.ms), ms: noop.map((l) => Number(l.ms)), notNoop: got.length - noop.length,
          metricMeanMs: (1000 * d('tend_resync_duration_seconds_sum')) / d('tend_resync_duration_seconds_count'),
          metricCount: d('tend_resync_duration_seconds_count'),
        });
      } finally {
        await agent.stop();
      }
    }
  } finally {
    await root.destroy();
  }

  s.notes.push(
    `One deployment root (the fixture app, release v1.0.0), instances split evenly over ${SPLIT.join(', ')} (user scope), grown from size to size and `
    + 'converged with `tend reconcile` while no agent runs (`agent.concurrency` 4; a no-op resync starts no work, so it plays no part); '
    + 'then `tend agent` (log level info) with `agent.resync` set to '
    + `\`"${RESYNC_CRON}"\` (every 2 s, to collect samples; the default is \`${DEFAULTS.resync}\`). The resync at start is left out; the next ${want} scheduled ones are timed.`,
    'Figure: the `ms` of the agent\'s own line `resync (schedule): N instance(s) queued in X ms` (performance.now() around reload of tend.yaml and desired/, '
    + 'observe of every runtime, releases and instance state, and plan; whole ms). Only resyncs that queued nothing count (a no-op). Cross-check: the mean over the same '
    + 'resyncs from `tend_resync_duration_seconds` _sum/_count in /metrics (scraped right after the resync at start and right after the last timed one). '
    + 'The histogram\'s buckets start at 10 ms (0.01, 0.025, 0.05, 0.1 s, …); _sum/_count give the mean.',
    `Sizes: ${sizes.map((n) => `${n} (${splitText(n)})`).join('; ')}.`,
  );
  const col = (f: (r: ResyncResult) => string) => results.map(f);
  s.tables.push({
    columns: ['figure', ...results.map((r) => `${r.size} instances`)],
    rows: [
      ['no-op resync (the agent\'s log line)', ...col((r) => fmt(r.ms, 'ms'))],
      ['mean from /metrics (_sum / _count)', ...col((r) => `${num(r.metricMeanMs)} ms (n=${r.metricCount})`)],
      ['resync at start (n=1, not in the figures above)', ...col((r) => `${num(r.startMs)} ms`)],
      ['scheduled resyncs that queued work (left out)', ...col((r) => String(r.notNoop))],
      ['set-up: `tend reconcile` converging the new instances (n=1)', ...col((r) => `${num(r.convergeMs / 1000)} s`)],
    ],
  });
  const last = results[results.length - 1];
  if (last) {
    const m = median(last.ms);
    s.targets.push([
      `no-op resync of ${last.size} instances inside the agent under 60 ms`,
      `${num(m)} ms (/metrics mean ${num(last.metricMeanMs)} ms)`,
      last.size === 60 ? verdict(m < 60) : `${verdict(m < 60)} (target is for 60)`,
    ]);
  }
  s.raw = { cron: RESYNC_CRON, results };
  return s;
}
