// `tend agent` as a real process for the agent scenarios: its JSON log lines (with the agent's own `time`),
// its status URL and PID, waiting for a line, and a bounded stop that the cleanup stack repeats on failure.
import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import type { BenchContext } from './context.js';
import type { BenchRoot } from './root.js';

export interface AgentLine {
  level: number;
  msg: string;
  /** The agent's own timestamp (pino isoTime, ms), as epoch ms. */
  t: number;
  instance?: string;
  [key: string]: unknown;
}

export interface BenchAgent {
  pid: number;
  /** `http://127.0.0.1:PORT` of the status server. */
  url: string;
  lines: AgentLine[];
  /** The first line at index >= `from` (default 0) that `match` accepts; waits for it up to `timeoutMs`. */
  waitFor(what: string, match: (l: AgentLine) => boolean, opts?: { from?: number; timeoutMs?: number }): Promise<AgentLine>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves the exit code. */
  stop(graceMs?: number): Promise<number | undefined>;
}

/** Starts `tend -C ROOT agent --listen 127.0.0.1:0 --no-pretty ...args` and waits for its status URL. */
export async function startAgent(ctx: BenchContext, root: BenchRoot, args: string[] = []): Promise<BenchAgent> {
  const proc = execa(process.execPath, [ctx.cli, '-C', root.dir, 'agent', '--listen', '127.0.0.1:0', '--no-pretty', ...args], {
    reject: false, stdin: 'ignore', buffer: false, env: { ...process.env, ...root.env },
  });
  const pid = proc.pid;
  if (pid === undefined) throw new Error('tend agent did not start');
  const lines: AgentLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let partial = '';
  let code: number | undefined;
  let gone = false;
  proc.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      if (!p.trim()) continue;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(p) as Record<string, unknown>;
      } catch {
        o = { level: 30, msg: p };
      }
      lines.push({ ...o, level: Number(o.level ?? 30), msg: String(o.msg ?? ''), t: typeof o.time === 'string' ? Date.parse(o.time) : Date.now() });
    }
    for (const w of [...waiters]) w();
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = proc.then((r) => {
    code = r.exitCode;
    gone = true;
    for (const w of [...waiters]) w();
    return r.exitCode;
  });

  const stop = async (graceMs = 45_000): Promise<number | undefined> => {
    if (gone) return code;
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (!gone) {
        ctx.log(`agent ${pid} still running ${graceMs} ms after SIGTERM: SIGKILL`);
        process.kill(pid, 'SIGKILL');
      }
    }, graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  const unregister = ctx.cleanups.add(`tend agent pid ${pid}`, async () => {
    await stop();
  });

  const tail = () => `${stderr.slice(-2000)}\n${lines.slice(-15).map((l) => l.msg).join('\n')}`;
  const waitFor: BenchAgent['waitFor'] = (what, match, opts = {}) => new Promise((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const finish = (f: () => void) => {
      waiters.delete(check);
      clearTimeout(timer);
      f();
    };
    const check = () => {
      const hit = lines.slice(opts.from ?? 0).find(match);
      if (hit) finish(() => resolve(hit));
      else if (gone) finish(() => reject(new Error(`tend agent exited (${code}) while waiting for ${what}:\n${tail()}`)));
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${tail()}`))), timeoutMs);
    waiters.add(check);
    check();
  });

  try {
    const urlLine = await waitFor('the agent status URL', (l) => typeof l.url === 'string', { timeoutMs: 60_000 });
    return {
      pid, url: String(urlLine.url), lines, waitFor,
      stop: async (graceMs) => {
        const c = await stop(graceMs);
        await unregister();
        return c;
      },
    };
  } catch (e) {
    await unregister();
    throw e;
  }
}

/** `resync (<why>): N instance(s) queued in X ms`: the agent's line after each full resync. */
export const isResync = (why?: string) => (l: AgentLine): boolean =>
  typeof l.ms === 'number' && typeof l.queued === 'number' && typeof l.why === 'string' && l.msg.startsWith('resync (') && (why === undefined || l.why === why);

// /proc readers (Linux) ----------------------------------------------------------------------------------------------

export interface ProcTimes {
  /** utime + stime of the process itself, in clock ticks. */
  self: number;
  /** cutime + cstime: its children that ended and were waited for, in clock ticks. */
  children: number;
}

/** CPU times from /proc/<pid>/stat (fields 14-17; the command name in parentheses may hold spaces). */
export function procTimes(pid: number): ProcTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, so f[11]; stime f[12], cutime f[13], cstime f[14].
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

export interface ProcMem {
  rssKiB: number;
  /** Peak RSS since the process started. */
  hwmKiB: number;
}

export function procMem(pid: number): ProcMem {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

/** PIDs whose parent is `pid` (each thread's /proc/<pid>/task/<tid>/children, else a scan of /proc). */
export function childrenOf(pid: number): number[] {
  try {
    const out = new Set<number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c) out.add(Number(c));
    }
    return [...out];
  } catch {
    const out: number[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }
}

/** The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux when that fails). */
export async function clockTicks(): Promise<number> {
  const r = await execa('getconf', ['CLK_TCK'], { reject: false, stdin: 'ignore' });
  const n = Number(String(r.stdout).trim());
  return r.exitCode === 0 && Number.isInteger(n) && n > 0 ? n : 100;
}

/** A value of an unlabelled series in Prometheus text (`name value`), NaN when absent. */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{\\})?\\s+(\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

export async function fetchMetrics(agent: BenchAgent): Promise<string> {
  const res = await fetch(`${agent.url}/metrics`, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
  return res.text();
}
