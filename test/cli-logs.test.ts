// tend logs: the pure pieces (--since parsing, lines since a time, the last N lines across rotated
// files, Docker's stream framing, journalctl's argv), then end to end with the built CLI on tmux,
// systemd (log files) and Docker (the Engine's logs): --tail 5 is exactly the last five lines of a
// process that printed more, --since, --follow until SIGINT.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerDemux, dockerLine, journalctlArgs, parseSince } from '../src/ops/logs.js';
import { lastLines, leadingTime, linesSince, logFiles, readLogLines } from '../src/ops/log-files.js';
import { loadConfig } from '../src/spec/config.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, CLI, REPO, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';

const scratch = useScratch();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(v)}`);
    await sleep(100);
  }
}

describe('log pieces (no processes)', () => {
  const now = new Date('2026-03-04T12:00:00.000Z');

  it('--since: durations back from now, dates and times; anything else is an error naming the forms', () => {
    expect(parseSince('10m', now).toISOString()).toBe('2026-03-04T11:50:00.000Z');
    expect(parseSince('1h30m', now).toISOString()).toBe('2026-03-04T10:30:00.000Z');
    expect(parseSince('2d', now).toISOString()).toBe('2026-03-02T12:00:00.000Z');
    expect(parseSince('45s', now).toISOString()).toBe('2026-03-04T11:59:15.000Z');
    expect(parseSince('2026-03-01T08:00:00Z', now).toISOString()).toBe('2026-03-01T08:00:00.000Z');
    expect(parseSince('2026-03-01T08:00:00+02:00', now).toISOString()).toBe('2026-03-01T06:00:00.000Z');
    expect(() => parseSince('yesterday', now)).toThrow(/not a duration \(10m, 2h, 1d\) or a date\/time/);
    expect(() => parseSince('10 minutes', now)).toThrow(/not a duration/);
  });

  it('leading timestamps; lines since a time keep untimestamped lines with their timestamped neighbour', () => {
    expect(leadingTime('2026-03-04T11:00:00Z GET / 200')).toBe(Date.parse('2026-03-04T11:00:00Z'));
    expect(leadingTime('[2026-03-04 11:00:00.250Z] boot')).toBe(Date.parse('2026-03-04T11:00:00.250Z'));
    expect(leadingTime('oubliette v1 listening')).toBeUndefined();
    const lines = [
      'banner before any time', '2026-03-04T10:00:00Z old', 'old continuation',
      '2026-03-04T11:30:00Z new', 'new continuation', '2026-03-04T11:45:00Z newer',
    ];
    expect(linesSince(lines, Date.parse('2026-03-04T11:00:00Z'))).toEqual(['2026-03-04T11:30:00Z new', 'new continuation', '2026-03-04T11:45:00Z newer']);
    expect(linesSince(lines, Date.parse('2026-03-04T09:00:00Z'))).toEqual(lines);
    expect(linesSince(['no', 'times', 'here'], Date.parse('2026-03-04T11:00:00Z'))).toEqual(['no', 'times', 'here']);
  });

  it('the last N lines of a file (with or without a final newline, larger than one read block) and across rotated files', () => {
    const dir = scratch('logs-pieces');
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    const big = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`);
    writeFileSync(join(logs, 'big.log'), `${big.join('\n')}\n`);
    expect(lastLines(join(logs, 'big.log'), 3)).toEqual(big.slice(-3));
    expect(lastLines(join(logs, 'big.log'), 5000)).toEqual(big.slice(-5000));
    writeFileSync(join(logs, 'open.log'), 'a\nb\nc');
    expect(lastLines(join(logs, 'open.log'), 2)).toEqual(['b', 'c']);
    expect(lastLines(join(logs, 'open.log'), 10)).toEqual(['a', 'b', 'c']);

    writeFileSync(join(logs, 'web.log.2'), 'r2-1\nr2-2\n');
    writeFileSync(join(logs, 'web.log.1'), 'r1-1\nr1-2\n');
    writeFileSync(join(logs, 'web.log'), 'live-1\nlive-2\n');
    writeFileSync(join(logs, 'web.log.bak'), 'not a rotation\n');
    const files = logFiles(join(logs, 'web.log'));
    expect(files.map((f) => f.slice(logs.length + 1))).toEqual(['web.log.2', 'web.log.1', 'web.log']);
    expect(readLogLines(files, { tail: 3 })).toEqual(['r1-2', 'live-1', 'live-2']);
    expect(readLogLines(files, {})).toEqual(['r2-1', 'r2-2', 'r1-1', 'r1-2', 'live-1', 'live-2']);
    expect(readLogLines(files, { tail: 0 })).toEqual([]);
  });

  it('Docker frames are split into stdout and stderr across chunk boundaries', () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(8);
      head[0] = stream;
      head.writeUInt32BE(body.length, 4);
      return Buffer.concat([head, body]);
    };
    const out: string[] = [];
    const err: string[] = [];
    const demux = new DockerDemux((b) => out.push(b.toString()), (b) => err.push(b.toString()));
    const all = Buffer.concat([frame(1, 'one\n'), frame(2, 'oops\n'), frame(1, 'two\n')]);
    const cuts = [0, 3, 9, 14, 20, all.length];
    for (let i = 0; i + 1 < cuts.length; i++) demux.push(all.subarray(cuts[i], cuts[i + 1]));
    expect(out.join('')).toBe('one\ntwo\n');
    expect(err.join('')).toBe('oops\n');
  });

  it('journalctl: --user in user scope, -n, --since as epoch seconds to the millisecond, -f, -o cat without timestamps', () => {
    const since = new Date('2026-03-04T12:00:00.900Z');
    expect(journalctlArgs({ kind: 'journal', unit: 'app-web.service', scope: 'user' }, { tail: 5, since, follow: true }))
      .toEqual(['--user', '-u', 'app-web.service', '--no-pager', '-n', '5', '--since', `@${Math.floor(since.getTime() / 1000)}.900`, '-f']);
    expect(journalctlArgs({ kind: 'journal', unit: 'app-web.service', scope: 'user' }, { since: new Date('2026-03-04T12:00:00.042Z'), timestamps: false }))
      .toEqual(['--user', '-u', 'app-web.service', '--no-pager', '--since', `@${Date.parse('2026-03-04T12:00:00Z') / 1000}.042`, '-o', 'cat']);
    expect(journalctlArgs({ kind: 'journal', unit: 'app-web.service', scope: 'system' }, {}))
      .toEqual(['-u', 'app-web.service', '--no-pager']);
  });
});

for (const h of harnesses.filter((x) => x.runtime !== 'launchd')) {
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`tend logs on ${h.title}`, () => {
    const app = `lg${h.runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let port: number;
    const cleanups: (() => Promise<void>)[] = [];
    const run = (args: string[]) => tend(['-C', root, ...args]);
    const logFile = () => join(root, 'instances', 'web', 'logs', 'web.log');
    /** What the runtime itself holds: the log file, or `docker logs --timestamps` (tend shows the Engine's times to the millisecond). */
    const recorded = async (): Promise<string[]> => {
      if (h.runtime === 'docker') {
        const r = await execa('docker', ['logs', '--timestamps', `${app}-web`], { reject: false });
        return `${r.stdout}`.split('\n').filter((l) => l !== '').map((l) => dockerLine(l, true));
      }
      return existsSync(logFile()) ? readFileSync(logFile(), 'utf8').split('\n').filter((l) => l !== '') : [];
    };
    const request = async (marker: string) => {
      expect((await httpGet(`http://127.0.0.1:${port}/version?m=${marker}`)).status).toBe(200);
    };
    const requestAndWait = async (marker: string) => {
      await request(marker);
      await until(`${marker} in the logs`, recorded, (lines) => lines.some((l) => l.includes(`m=${marker}`)));
    };

    beforeAll(async () => {
      gate.check();
      await buildOnce();
      root = scratch(`logs-${h.runtime}`);
      const { image } = await fixtureRoot(h, root, app);
      if (image) cleanups.push(() => h.removeImage?.(image) ?? Promise.resolve());
      cleanups.push(() => h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!));
      port = await freePort();
      writeFileSync(join(root, 'desired', 'web.yaml'), [
        'version: v1.0.0', `runtime: ${h.runtime}`, `port: ${port}`, 'health:', '  http: /health', '  timeout: 10s', '  interval: 250ms', h.instanceExtra ?? '', '',
      ].join('\n'));
      const r = await run(['reconcile']);
      expect(r.code, r.stderr).toBe(0);
    }, 180_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }, 120_000);

    it('--tail 5 prints exactly the last five lines of a process that printed more', async () => {
      for (let i = 0; i < 7; i++) await requestAndWait(`t${i}`);
      const all = await recorded();
      expect(all.length).toBeGreaterThan(5);
      const r = await run(['logs', 'web', '--tail', '5']);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(5);
      expect(lines).toEqual(all.slice(-5));
      expect(lines.at(-1)).toContain('m=t6');
      expect(lines.join('\n')).not.toContain('m=t1');
      const everything = await run(['logs', 'web']);
      expect(everything.stdout.split('\n').filter((l) => l !== '')).toEqual(all);
    }, 60_000);

    it('--since: only what was logged since then (a time, and a duration)', async () => {
      await requestAndWait('s-old');
      await sleep(1100);
      const since = new Date();
      await sleep(1100); // the app's timestamps (Docker: whole seconds) are clearly after `since`
      await requestAndWait('s-new');
      const r = await run(['logs', 'web', '--since', since.toISOString()]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('m=s-new');
      expect(r.stdout).not.toContain('m=s-old');
      expect(r.stdout).not.toContain('m=t6');
      const recent = await run(['logs', 'web', '--since', '10m']);
      expect(recent.stdout).toContain('m=s-old');
      expect(recent.stdout).toContain('m=s-new');
      const bad = await run(['logs', 'web', '--since', 'yesterday']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('--since yesterday: not a duration');
    }, 60_000);

    it('--follow streams new lines until SIGINT (exit 0)', async () => {
      const child = execa('node', [CLI, '-C', root, 'logs', 'web', '--follow', '--tail', '1'], { cwd: REPO, reject: false });
      let out = '';
      child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
      try {
        await until('the first line', () => out, (o) => o.includes('\n'));
        await request('f-live');
        await until('the followed line', () => out, (o) => o.includes('m=f-live'), 15_000);
      } finally {
        child.kill('SIGINT');
      }
      const r = await child;
      expect(r.exitCode).toBe(0);
      expect(out).toContain('m=f-live');
    }, 60_000);

    it('an unknown instance is an error', async () => {
      const r = await run(['logs', 'nope', '--tail', '5']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no instance nope in desired/');
      const badTail = await run(['logs', 'web', '--tail', 'five']);
      expect(badTail.code).toBe(1);
      expect(badTail.stderr).toContain('--tail five: not a whole number');
    }, 30_000);
  });
}
