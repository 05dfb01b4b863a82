// Instance state on real files and real processes: version history, status.json and the instance lock.
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { describe, expect, it } from 'vitest';
import type { HistoryEntry, StatusFile } from '../src/model/types.js';
import { readInstanceState } from '../src/observe/instances.js';
import { currentBootId, type LockOwner } from '../src/fs/lock.js';
import { appendHistory, historyPath, lastHealthy, readHistory, readHistoryFile } from '../src/state/history.js';
import { instanceLockOwner, instanceLockPath, withInstanceLock } from '../src/state/lock.js';
import { readStatus, statusPath, updateStatus, writeStatus } from '../src/state/status.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const REPO = fileURLToPath(new URL('../', import.meta.url));
const CHILD = fileURLToPath(new URL('./helpers/instance-lock-child.ts', import.meta.url));
const VITE_NODE = join(REPO, 'node_modules', '.bin', 'vite-node');

const entry = (version: string, outcome: HistoryEntry['outcome'], extra: Partial<HistoryEntry> = {}): HistoryEntry =>
  ({ version, updatedAt: '2026-01-01T00:00:00.000Z', updatedBy: 'ops@host', reason: 'update', outcome, ...extra });

describe('version history', () => {
  it('appends whole JSON lines in a fixed key order and reads them back', () => {
    const file = historyPath(scratch('hist'), 'web');
    expect(readHistoryFile(file)).toEqual({ entries: [], problems: [] });
    const a = { outcome: 'healthy', reason: 'create', version: 'v1.0.0', updatedBy: 'agent', updatedAt: '2026-01-01T00:00:00.000Z' } as HistoryEntry;
    expect(appendHistory(file, a)).toEqual({ appended: true });
    appendHistory(file, entry('v1.1.0', 'failed', { reason: 'update', detail: 'Health check timeout after 30s: HTTP 500 from /health' }));
    appendHistory(file, entry('v1.0.0', 'healthy', { reason: 'auto-rollback' }));
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).toBe('{"version":"v1.0.0","updatedAt":"2026-01-01T00:00:00.000Z","updatedBy":"agent","reason":"create","outcome":"healthy"}');
    expect(text.endsWith('\n')).toBe(true);
    expect(readHistory(file).map((e) => `${e.version} ${e.reason} ${e.outcome}`)).toEqual(['v1.0.0 create healthy', 'v1.1.0 update failed', 'v1.0.0 auto-rollback healthy']);
    expect(() => appendHistory(file, { ...entry('v2', 'healthy'), reason: 'deploy' as HistoryEntry['reason'] })).toThrow(/reason "deploy" is not one of/);
  });

  it('skips and reports a torn last line; the next append starts a fresh line', () => {
    const file = historyPath(scratch('hist'), 'web');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, `${JSON.stringify(entry('v1.0.0', 'healthy'))}\n{"version":"v1.1`);
    expect(readHistoryFile(file)).toEqual({ entries: [entry('v1.0.0', 'healthy')], problems: ['line 2: not JSON (torn last line: no newline)'] });
    appendHistory(file, entry('v1.1.0', 'healthy'));
    const r = readHistoryFile(file);
    expect(r.entries.map((e) => e.version)).toEqual(['v1.0.0', 'v1.1.0']);
    expect(r.problems).toEqual(['line 2: not JSON']);
    // observe reads through the same reader
    expect(readInstanceState(scratch('root'), join(file, '..', '..'), 'web').history.map((e) => e.version)).toEqual(['v1.0.0', 'v1.1.0']);
  });

  it('is idempotent on re-run: an id already on file is not appended again', () => {
    const file = historyPath(scratch('hist'), 'web');
    const e = entry('v1.1.0', 'healthy', { id: 'web/verify-health:abc123:2026-01-01T00:00:00Z' });
    expect(appendHistory(file, e)).toEqual({ appended: true });
    expect(appendHistory(file, { ...e, updatedAt: '2026-01-01T00:05:00.000Z' })).toEqual({ appended: false, why: 'duplicate id' });
    expect(appendHistory(file, { ...e, id: 'another attempt' })).toEqual({ appended: true });
    expect(readHistory(file).map((x) => x.id)).toEqual([e.id, 'another attempt']);
  });

  it('lastHealthy is the newest healthy entry by file order, optionally not of one version', () => {
    const h = [entry('v1.0.0', 'healthy'), entry('v1.1.0', 'healthy', { updatedAt: '2020-01-01T00:00:00Z' }), entry('v2.0.0', 'failed'), entry('v1.0.0', 'healthy', { reason: 'rollback' })];
    expect(lastHealthy(h)).toBe(h[3]);
    expect(lastHealthy(h, 'v1.0.0')).toBe(h[1]);
    expect(lastHealthy(h.slice(2, 3))).toBeUndefined();
    expect(lastHealthy([])).toBeUndefined();
  });
});

describe('status.json', () => {
  const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m));

  it('is replaced atomically, keeps since while the phase holds, and reads back', () => {
    const dir = scratch('status');
    const file = statusPath(dir, 'web');
    expect(readStatus(file)).toEqual({ status: undefined, reason: `${file} does not exist` });
    const first = writeStatus(file, { phase: 'Progressing', desiredVersion: 'v1.1.0', observedVersion: 'v1.0.0', port: 8081, message: 'updating' }, { now: at(0) });
    expect(first.since).toBe('2026-01-01T00:00:00.000Z');
    const inode = statSync(file).ino;
    const again = writeStatus(file, { phase: 'Progressing', desiredVersion: 'v1.1.0', message: 'waiting for health' }, { now: at(1) });
    expect(again.since).toBe('2026-01-01T00:00:00.000Z');
    expect(statSync(file).ino).not.toBe(inode); // a new file renamed over the old one
    const ready = writeStatus(file, { phase: 'Ready', desiredVersion: 'v1.1.0', observedVersion: 'v1.1.0', port: 8081, health: { healthy: true, at: at(2).toISOString() } }, { now: at(2) });
    expect(ready.since).toBe('2026-01-01T00:02:00.000Z');
    expect(readStatus(file)).toEqual({ status: ready });
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')) as object)).toEqual(['phase', 'desiredVersion', 'observedVersion', 'port', 'health', 'since']);
    expect(readdirSync(join(dir, 'web'))).toEqual(['status.json']);
  });

  it('updateStatus merges, removes keys set to undefined, and restarts since on a new phase', () => {
    const file = statusPath(scratch('status'), 'web');
    expect(() => updateStatus(file, { message: 'no phase yet' })).toThrow(/no valid phase/);
    const held = { version: 'v2.0.0', specHash: 'abc', at: at(5).toISOString(), reason: 'Health check timeout after 30s: HTTP 500 from /health' };
    updateStatus(file, { phase: 'RolledBack', observedVersion: 'v1.1.0', held, message: 'Update failed, rolled back to v1.1.0' }, { now: at(5) });
    const kept: StatusFile = updateStatus(file, { message: 'still held' }, { now: at(6) });
    expect(kept).toMatchObject({ phase: 'RolledBack', held, since: '2026-01-01T00:05:00.000Z', message: 'still held' });
    const lifted = updateStatus(file, { phase: 'Progressing', held: undefined }, { now: at(7) });
    expect(lifted).toEqual({ phase: 'Progressing', observedVersion: 'v1.1.0', message: 'still held', since: '2026-01-01T00:07:00.000Z' });
  });

  it('a corrupt or foreign file reads as undefined with the reason, never throws', () => {
    const dir = scratch('status');
    const file = join(dir, 'status.json');
    writeFileSync(file, '{"phase": "Ready", "since": ');
    expect(readStatus(file).reason).toMatch(/status\.json is not valid JSON/);
    writeFileSync(file, '{"phase": "Sleeping"}');
    expect(readStatus(file)).toEqual({ status: undefined, reason: `${file} has no valid phase ("Sleeping")` });
    writeFileSync(file, '[1]');
    expect(readStatus(file).reason).toBe(`${file} is not a JSON object`);
    expect(readStatus(dir).reason).toMatch(/cannot be read: refusing .*: it is a directory, not a regular file/);
  });
});

/** A second process holding or trying the lock; `next(event)` resolves with the next line of that event. */
function child(instances: string, name: string, mode: 'hold' | 'try', timeoutMs = 10_000) {
  const proc: ResultPromise = execa(VITE_NODE, [CHILD, instances, name, mode, String(timeoutMs)], { cwd: REPO, reject: false, stdin: 'pipe' });
  const seen: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve: (v: Record<string, unknown>) => void }[] = [];
  let buf = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const ev = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      seen.push(ev);
      for (const w of waiters.filter((x) => x.event === ev.event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(ev);
      }
    }
  });
  const next = (event: string) => new Promise<Record<string, unknown>>((resolve) => {
    const already = seen.find((e) => e.event === event);
    if (already) resolve(already);
    else waiters.push({ event, resolve });
  });
  return { proc, seen, next };
}

describe('instance lock', () => {
  it('excludes a second process: it waits, names the holder, gives up after its timeout, or gets the lock once released', async () => {
    const instances = scratch('lock');
    const paths = { instances };
    await withInstanceLock(paths, 'web', async () => {
      expect(instanceLockOwner(paths, 'web')).toMatchObject({ pid: process.pid, hostname: hostname(), purpose: 'test' });
      const quick = child(instances, 'web', 'try', 300);
      const r = await quick.proc;
      expect(r.exitCode).toBe(1);
      expect(quick.seen.map((e) => e.event)).toEqual(['waiting', 'error']);
      expect((quick.seen[0]!.owner as LockOwner).pid).toBe(process.pid);
      expect(quick.seen[1]!.message).toMatch(/^gave up after 0s waiting for .*\.locks\/web\.lock, held by pid \d+ on .* \(test\)/);

      const patient = child(instances, 'web', 'try');
      await patient.next('waiting');
      return patient;
    }, { purpose: 'test' }).then(async (patient) => {
      expect((await patient.proc).exitCode).toBe(0);
      expect(patient.seen.map((e) => e.event)).toEqual(['waiting', 'acquired', 'released']);
    });
    expect(instanceLockOwner(paths, 'web')).toBeUndefined();

    // The other way round: the child holds, this process waits until it lets go.
    const holder = child(instances, 'web', 'hold');
    const held = await holder.next('held');
    expect(instanceLockOwner(paths, 'web')?.pid).toBe(held.pid);
    const waits: (LockOwner | undefined)[] = [];
    await expect(withInstanceLock(paths, 'web', () => 'never', { timeoutMs: 200, onWait: (o) => waits.push(o) })).rejects.toThrow(/^gave up after/);
    expect(waits.map((o) => o?.purpose)).toEqual(['child hold']);
    const order: string[] = [];
    const mine = withInstanceLock(paths, 'web', () => order.push('parent got it'), { timeoutMs: 10_000 });
    setTimeout(() => holder.proc.stdin!.write('release\n'), 100);
    await mine;
    await holder.proc;
    expect(holder.seen.map((e) => e.event)).toEqual(['held', 'released']);
    expect(order).toEqual(['parent got it']);
  });

  it('takes over a lock left by a killed process, with a warning callback', async () => {
    const instances = scratch('lock');
    const holder = child(instances, 'api', 'hold');
    const held = await holder.next('held');
    expect(held.pid).toBe(holder.proc.pid); // the lock names the process we kill
    holder.proc.kill('SIGKILL');
    await holder.proc;
    const stale: (LockOwner | undefined)[] = [];
    const got = await withInstanceLock({ instances }, 'api', () => 'ran', { timeoutMs: 2_000, onStale: (o) => stale.push(o) });
    expect(got).toBe('ran');
    expect(stale.map((o) => [o?.pid, o?.purpose])).toEqual([[held.pid, 'child hold']]);
  });

  it('PID reuse: our own PID in a lock we do not hold, or a lock from another boot, is stale', async () => {
    const instances = scratch('lock');
    const path = instanceLockPath({ instances }, 'web');
    mkdirSync(join(path, '..'), { recursive: true });
    const owner = { pid: process.pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00Z', purpose: 'a predecessor' };
    writeFileSync(path, JSON.stringify(owner));
    const stale: (LockOwner | undefined)[] = [];
    await withInstanceLock({ instances }, 'web', () => undefined, { timeoutMs: 1_000, onStale: (o) => stale.push(o) });
    expect(stale).toEqual([owner]);

    if (currentBootId()) {
      const before = { pid: 1, hostname: hostname(), startedAt: '2026-01-01T00:00:00Z', boot: 'an-earlier-boot' };
      writeFileSync(path, JSON.stringify(before));
      await withInstanceLock({ instances }, 'web', () => undefined, { timeoutMs: 1_000, onStale: (o) => stale.push(o) });
      expect(stale[1]).toEqual(before);
    }
  });

  it('tasks of one process wait for each other; a nested call in the same task runs at once; abort stops the wait', async () => {
    const paths = { instances: scratch('lock') };
    const order: string[] = [];
    let releaseFirst!: () => void;
    const first = withInstanceLock(paths, 'web', async () => {
      order.push('first in');
      await withInstanceLock(paths, 'web', () => order.push('nested'));
      await new Promise<void>((r) => { releaseFirst = r; });
      order.push('first out');
    });
    await new Promise((r) => setTimeout(r, 20));
    const waited: unknown[] = [];
    const second = withInstanceLock(paths, 'web', () => order.push('second'), { onWait: (o) => waited.push(o) });
    const ac = new AbortController();
    const third = withInstanceLock(paths, 'web', () => order.push('third'), { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await expect(third).rejects.toThrow(/aborted/i);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'nested', 'first out', 'second']);
    expect(waited).toHaveLength(1);
    expect(() => instanceLockPath(paths, '../etc')).toThrow(/cannot name an instance lock/);
  });
});
