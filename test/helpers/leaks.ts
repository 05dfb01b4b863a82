// The leak check around a test run (vitest globalSetup): what the run's own tests left on the machine.
// Tests name what they create after their worker's PID (`<prefix><pid><hex>`); the run records its
// workers' PIDs and marks its processes with TEND_TEST_RUN. After the run, a unit, unit file,
// container, tmux socket or session that is new, carries one of those PIDs, or a live process that
// carries the mark, is a leak.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { unitDirOf } from '../../src/drivers/systemd/unit.js';
import { dockerRequest, probeBackend, userctl } from './backends.js';

/** One thing on the machine: `unit NAME`, `unit file PATH`, `container NAME`, `tmux socket PATH`, `tmux session SOCKET:NAME`. */
export type Thing = string;

function tmuxDir(): string {
  return join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`);
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Units, unit files, containers, tmux sockets and sessions on this machine now (backends that do not answer are left out). */
export async function snapshot(): Promise<Set<Thing>> {
  const out = new Set<Thing>();
  if ((await probeBackend('systemd')).ok) {
    const r = await userctl(['list-units', '--all', '--plain', '--no-legend']);
    for (const l of String(r.stdout).split('\n')) {
      const name = l.trim().split(/\s+/)[0];
      if (name) out.add(`unit ${name}`);
    }
  }
  const dir = unitDirOf('user');
  for (const d of [dir, join(dir, 'default.target.wants')]) for (const f of list(d)) out.add(`unit file ${join(d, f)}`);
  if ((await probeBackend('docker')).ok) {
    const r = await dockerRequest('/containers/json?all=1');
    for (const c of JSON.parse(r.body) as { Names?: string[] }[]) for (const n of c.Names ?? []) out.add(`container ${n.replace(/^\//, '')}`);
  }
  for (const s of list(tmuxDir())) {
    const path = join(tmuxDir(), s);
    out.add(`tmux socket ${path}`);
    const r = await execa('tmux', ['-S', path, 'list-sessions', '-F', '#{session_name}'], { reject: false, stdin: 'ignore', timeout: 5000 });
    if (r.exitCode === 0) for (const n of String(r.stdout).split('\n')) if (n) out.add(`tmux session ${s}:${n}`);
  }
  return out;
}

/** The name part of a thing carries one of these PIDs as a whole number (`tendsd1234ab…`, `tend-contract-1234-…`). */
export function carriesPid(thing: Thing, pids: number[]): boolean {
  const name = thing.replace(/^(unit file|unit|container|tmux socket|tmux session) /, '').split('/').pop() ?? '';
  return pids.some((pid) => new RegExp(`(^|[^0-9])${pid}`).test(name));
}

interface Proc {
  pid: number;
  ppid: number;
  zombie: boolean;
  cmd: string;
  env: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const d of list('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({
        pid: Number(d),
        ppid: Number(rest[1]),
        zombie: rest[0] === 'Z',
        cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(),
        env: readFileSync(`/proc/${d}/environ`, 'latin1'),
      });
    } catch { /* gone, or not ours to read */ }
  }
  return out;
}

/** Live processes carrying `TEND_TEST_RUN=<mark>` that are not this process or its descendants. */
export function markedProcesses(mark: string, self = process.pid): Thing[] {
  const all = processes();
  const byParent = new Map<number, number[]>();
  for (const p of all) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p.pid]);
  const mine = new Set<number>([self]);
  for (const queue = [self]; queue.length > 0;) for (const c of byParent.get(queue.shift()!) ?? []) if (!mine.has(c)) { mine.add(c); queue.push(c); }
  const needle = `\0TEND_TEST_RUN=${mark}\0`;
  return all
    .filter((p) => !p.zombie && !mine.has(p.pid) && `\0${p.env}`.includes(needle))
    .map((p) => `process ${p.pid} ${p.cmd.slice(0, 160)}`);
}

/** What the run left: things new since `before` that carry a worker's PID, and its marked processes. */
export async function findLeaks(before: Set<Thing>, pids: number[], mark: string): Promise<Thing[]> {
  const after = await snapshot();
  const left = [...after].filter((t) => !before.has(t) && carriesPid(t, pids));
  return [...left, ...markedProcesses(mark)];
}

/** The report for a leak: each thing and how to remove it by hand. */
export function leakReport(leaks: Thing[]): string {
  const how = (t: Thing): string => {
    const [kind, rest] = [t.replace(/ .*$/, ''), t.replace(/^(unit file|unit|container|tmux socket|tmux session|process) /, '')];
    if (t.startsWith('unit file ')) return `rm ${rest} && systemctl --user daemon-reload`;
    if (kind === 'unit') return `systemctl --user stop ${rest}; systemctl --user reset-failed ${rest}`;
    if (kind === 'container') return `docker rm -f ${rest}`;
    if (t.startsWith('tmux socket ')) return `tmux -S ${rest} kill-server; rm -f ${rest}`;
    if (t.startsWith('tmux session ')) return `tmux -S ${join(tmuxDir(), rest.split(':')[0]!)} kill-session -t '=${rest.split(':').slice(1).join(':')}'`;
    return `kill ${rest.split(' ')[0]}`;
  };
  return [
    `the test run left ${leaks.length} thing(s) of its own behind (a test's clean-up is missing or failed):`,
    ...leaks.map((t) => `  - ${t}\n      remove: ${how(t)}`),
  ].join('\n');
}
