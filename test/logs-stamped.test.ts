// tend stamps each line of an instance's output with the time it was written (issue 14, point 6), so
// `tend logs --since` works without the app's help, to the millisecond, on tmux, systemd (log files,
// through the output pipe and its stamper) and Docker (the Engine's own times). The app here writes
// plain lines with no time of its own (the fixture's GET /log/<text>). tmux logs carry no `\r` and no
// terminal escape sequences; --no-timestamps gives the lines as written; copy-truncate rotation keeps
// working while the stamper writes. Then the stamper alone (no processes): escape sequences, `\r`,
// partial lines.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateLogs } from '../src/agent/logrotate.js';
import { causeLine } from '../src/executor/exit-cause.js';
import { loadConfig } from '../src/spec/config.js';
import { dockerLine, dockerSince } from '../src/ops/logs.js';
import { LineStamper } from '../libexec/tend-logstamp.mjs';
import { backendGate, systemdUserEnv } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';

const scratch = useScratch();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STAMPED = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) (.*)$/;

async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(100);
  }
}

for (const h of harnesses.filter((x) => x.runtime !== 'launchd')) {
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`tend logs stamps every line on ${h.title}`, () => {
    const app = `ls${h.runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let port: number;
    const cleanups: (() => Promise<void>)[] = [];
    const run = (args: string[]) => tend(['-C', root, ...args]);
    const logFile = () => join(root, 'instances', 'web', 'logs', 'web.log');
    const say = async (text: string) => {
      expect((await httpGet(`http://127.0.0.1:${port}/log/${text}`)).status).toBe(200);
    };
    /** `tend logs web [args]` as lines (exit 0 required). */
    const logs = async (...args: string[]) => {
      const r = await run(['logs', 'web', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.split('\n').filter((l) => l !== '');
    };
    /** The stamped line `tend logs` shows for `text`, once it is there. */
    const stampedLine = (text: string) => until(`${text} in tend logs`, () => logs(), (lines) => lines.some((l) => l.endsWith(` ${text}`)))
      .then((lines) => lines.find((l) => l.endsWith(` ${text}`))!);

    beforeAll(async () => {
      gate.check();
      await buildOnce();
      root = scratch(`logstamp-${h.runtime}`);
      const { image } = await fixtureRoot(h, root, app);
      if (image) cleanups.push(() => h.removeImage?.(image) ?? Promise.resolve());
      cleanups.push(() => h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!));
      port = await freePort();
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(root, 'desired', 'web.yaml'), [
        'version: v1.0.0', `runtime: ${h.runtime}`, `port: ${port}`, 'health:', '  http: /health', '  timeout: 20s', '  interval: 250ms', h.instanceExtra ?? '', '',
      ].join('\n'));
      const r = await run(['reconcile']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
    }, 240_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }, 120_000);

    it('--since works to the millisecond for lines the app wrote with no time of its own; --no-timestamps shows them as written', async () => {
      const old = `old-${randomBytes(3).toString('hex')}`;
      const fresh = `new-${randomBytes(3).toString('hex')}`;
      await say(old);
      const oldLine = await stampedLine(old);
      const m = STAMPED.exec(oldLine);
      expect(m, `a stamped line: ${oldLine}`).not.toBeNull();
      expect(m![2]).toBe(old);
      const at = Date.parse(m![1]!);
      expect(Math.abs(Date.now() - at)).toBeLessThan(60_000);
      // One millisecond after the old line: on a whole-second filter the old line would still show.
      const since = new Date(at + 1).toISOString();
      await say(fresh);
      await stampedLine(fresh);
      const after = await logs('--since', since);
      expect(after.some((l) => l.endsWith(` ${fresh}`))).toBe(true);
      expect(after.some((l) => l.includes(old))).toBe(false);
      for (const l of after) expect(l, 'every line shows its time').toMatch(STAMPED);
      const bare = await logs('--since', since, '--no-timestamps');
      expect(bare).toContain(fresh);
      expect(bare.every((l) => !STAMPED.test(l))).toBe(true);
      expect((await logs('--no-timestamps', '--tail', '1'))).toEqual([fresh]);
      expect((await logs('--timestamps', '--tail', '1'))[0]).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z ${fresh}$`));
      if (h.runtime !== 'docker') {
        // The file itself: every line stamped by tend (the app's own request lines too, stamp first).
        const text = readFileSync(logFile(), 'utf8');
        const lines = text.split('\n').filter((l) => l !== '');
        expect(lines.length).toBeGreaterThan(2);
        for (const l of lines) expect(l).toMatch(STAMPED);
      }
    }, 90_000);

    if (h.runtime === 'tmux') it('tmux: no carriage returns and no terminal escape sequences in the log file', async () => {
      const tag = randomBytes(3).toString('hex');
      // Red text, then a progress line redrawn with \r: what a terminal would show is `red-…` and `100%-…`.
      await say(encodeURIComponent(`\x1b[31mred-${tag}\x1b[0m`));
      await say(encodeURIComponent(`\x1b]0;a title\x07progress 10%\rprogress 100%-${tag}`));
      await stampedLine(`progress 100%-${tag}`);
      const text = readFileSync(logFile(), 'utf8');
      expect(text).not.toContain('\r');
      expect(text).not.toContain('\x1b');
      expect(text).not.toContain('\x07');
      expect(text).toMatch(new RegExp(`^\\S+Z red-${tag}$`, 'm'));
      expect(text).toMatch(new RegExp(`^\\S+Z progress 100%-${tag}$`, 'm'));
      expect(text).not.toContain('progress 10%\n');
    }, 60_000);

    if (h.runtime !== 'docker') it('copy-truncate rotation while the stamper writes: new lines land stamped at the start of the live file', async () => {
      const before = `pre-rot-${randomBytes(3).toString('hex')}`;
      const afterRot = `post-rot-${randomBytes(3).toString('hex')}`;
      await say(before);
      await stampedLine(before);
      const report = rotateLogs({ files: [logFile()], maxSize: '1', keep: 2 });
      expect(report.errors).toEqual([]);
      expect(report.rotated.map((r) => r.file)).toEqual([logFile()]);
      expect(readFileSync(`${logFile()}.1`, 'utf8')).toContain(` ${before}\n`);
      await say(afterRot);
      await until('the line after rotation in the live file', () => readFileSync(logFile(), 'utf8'), (t) => t.includes(afterRot));
      const live = readFileSync(logFile());
      expect(live.includes(0), 'no hole of NUL bytes: the stamper appends').toBe(false);
      expect(live.toString('utf8').split('\n').filter((l) => l !== '').every((l) => STAMPED.test(l))).toBe(true);
      // tend logs reads the rotated copy and the live file in order.
      const both = await logs('--no-timestamps');
      expect(both.indexOf(before)).toBeGreaterThanOrEqual(0);
      expect(both.indexOf(afterRot)).toBeGreaterThan(both.indexOf(before));
    }, 60_000);

    if (h.runtime === 'systemd') it('systemd: the output pipe and its stamper are companion units tend owns, not instances; delete removes them', async () => {
      const unitDir = join(process.env.XDG_CONFIG_HOME ?? join(process.env.HOME ?? '/root', '.config'), 'systemd', 'user');
      for (const n of [`${app}-web.log.socket`, `${app}-web.log.service`]) expect(existsSync(join(unitDir, n)), n).toBe(true);
      const unit = readFileSync(join(unitDir, `${app}-web.service`), 'utf8');
      expect(unit).toContain(`Requires=${app}-web.log.socket`);
      expect(unit).toMatch(/^StandardOutput=file:.*\/logs\/\.output\.fifo$/m);
      const status = await run(['status', '--json']);
      expect(status.stdout).not.toContain('web.log');
      const plan = await run(['reconcile', '--dry-run', '--detailed-exitcode']);
      expect(plan.code, plan.stdout).toBe(0);
      const del = await run(['delete', 'web', '--yes']);
      expect(del.code, del.stderr).toBe(0);
      for (const n of [`${app}-web.service`, `${app}-web.log.socket`, `${app}-web.log.service`]) expect(existsSync(join(unitDir, n)), n).toBe(false);
      const left = await execa('systemctl', ['--user', 'list-units', '--all', '--no-legend', `${app}-*`], { reject: false, env: systemdUserEnv() });
      expect(String(left.stdout).trim()).toBe('');
    }, 90_000);
  });
}

describe('the stamper and the stamps (no processes)', () => {
  const t0 = Date.parse('2026-03-04T12:00:00.000Z');

  it('terminal mode: escape sequences dropped, \\r\\n ends a line, a lone \\r starts it over, backspace erases', () => {
    const s = new LineStamper({ terminal: true });
    let out = s.push('\x1b[1;31mbold red\x1b[0m\r\n', t0);
    out += s.push('10%\r', t0 + 5);
    out += s.push('\x1b[2K100%\r\n\x1b]0;title\x1b\\ab\bc\x07\r', t0 + 10);
    out += s.push('\nhalf', t0 + 20);
    expect(out).toBe([
      '2026-03-04T12:00:00.000Z bold red', '2026-03-04T12:00:00.005Z 100%', '2026-03-04T12:00:00.010Z ac', '',
    ].join('\n'));
    expect(s.flush()).toBe('2026-03-04T12:00:00.020Z half\n');
    expect(s.flush()).toBe('');
  });

  it('an escape sequence split across chunks; plain mode keeps escapes and drops only the \\r of \\r\\n', () => {
    const t = new LineStamper({ terminal: true });
    expect(t.push('x\x1b[3', t0) + t.push('1my\n', t0 + 1)).toBe('2026-03-04T12:00:00.000Z xy\n');
    const p = new LineStamper();
    expect(p.push('a\x1b[1mb\r\nc\rd\n\n', t0)).toBe('2026-03-04T12:00:00.000Z a\x1b[1mb\n2026-03-04T12:00:00.000Z c\rd\n2026-03-04T12:00:00.000Z \n');
  });

  it('a line is stamped with the time its first character came; a very long one is cut', () => {
    const s = new LineStamper({ maxLine: 4 });
    expect(s.push('ab', t0)).toBe('');
    expect(s.push('c\n', t0 + 900)).toBe('2026-03-04T12:00:00.000Z abc\n');
    expect(s.push('abcdef\n', t0 + 1000)).toBe('2026-03-04T12:00:01.000Z abcd\n2026-03-04T12:00:01.000Z ef\n');
  });

  it('Docker: since with milliseconds; the Engine\'s nanosecond times shown as tend\'s stamps or left out', () => {
    expect(dockerSince(new Date('2026-03-04T12:00:00.042Z'))).toBe(`${Math.floor(t0 / 1000)}.042000000`);
    expect(dockerLine('2026-03-04T12:00:00.123456789Z hello world', true)).toBe('2026-03-04T12:00:00.123Z hello world');
    expect(dockerLine('2026-03-04T12:00:00Z hello', true)).toBe('2026-03-04T12:00:00.000Z hello');
    expect(dockerLine('2026-03-04T12:00:00.5Z hello', false)).toBe('hello');
  });

  it('the rollback cause comes from stamped lines without the stamp', () => {
    expect(causeLine('2026-03-04T12:00:00.000Z starting\n2026-03-04T12:00:00.100Z Error: listen EADDRINUSE: address already in use\n2026-03-04T12:00:00.200Z bye\n'))
      .toBe('Error: listen EADDRINUSE: address already in use');
  });
});
