// Log rotation on real files with a real writer process holding its log open through `>>` (O_APPEND).
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { logFilesOf, logRoots, parseSize, rotateLogs } from '../src/agent/logrotate.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

/** Appends `seq <n> xxx…` lines to fd 1 on command: `burst N`, `run` (until `stop`); answers on stderr. */
const WRITER = `
const { writeSync } = require('node:fs');
let seq = 0, timer;
const line = () => 'seq ' + (++seq) + ' ' + 'x'.repeat(50) + '\\n';
const say = (s) => process.stderr.write(s + '\\n');
require('node:readline').createInterface({ input: process.stdin }).on('line', (cmd) => {
  const [op, n] = cmd.split(' ');
  if (op === 'burst') { for (let i = 0; i < Number(n); i++) writeSync(1, line()); say('wrote ' + seq); }
  if (op === 'run') { timer = setInterval(() => { for (let i = 0; i < 20; i++) writeSync(1, line()); }, 1); say('running'); }
  if (op === 'stop') { clearInterval(timer); say('wrote ' + seq); }
}).on('close', () => { clearInterval(timer); });
`;

interface Writer {
  send(cmd: string): Promise<string>;
  proc: ResultPromise;
}

const started: ResultPromise[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) {
    p.stdin?.end();
    await p.catch(() => undefined);
  }
});

/** A real long-running writer whose stdout is the log opened by the shell with `>>`, as systemd `append:` does. */
function startWriter(log: string): Writer {
  const proc = execa('sh', ['-c', 'exec node -e "$1" >> "$2"', 'sh', WRITER, log], { stdin: 'pipe', stderr: 'pipe', stdout: 'ignore' });
  started.push(proc);
  const replies: string[] = [];
  const waiting: ((s: string) => void)[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else replies.push(l);
  });
  return {
    proc,
    send(cmd) {
      const reply = new Promise<string>((resolve) => {
        const r = replies.shift();
        if (r !== undefined) resolve(r);
        else waiting.push(resolve);
      });
      proc.stdin!.write(`${cmd}\n`);
      return reply;
    },
  };
}

/** Bytes of one line with a one-digit sequence number. */
const LINE_BYTES = 'seq 1 '.length + 50 + 1;

/** Sequence numbers of the whole lines of a file; a torn last line (copy-truncate's window) is returned apart. */
function seqs(file: string): { nums: number[]; torn: string | undefined } {
  const text = readFileSync(file, 'utf8');
  const parts = text.split('\n');
  const tail = parts.pop();
  const nums = parts.map((l) => {
    const m = /^seq (\d+) x{50}$/.exec(l);
    if (!m) throw new Error(`malformed line in ${file}: ${JSON.stringify(l)}`);
    return Number(m[1]);
  });
  return { nums, torn: tail === '' ? undefined : tail };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('parseSize', () => {
  it('reads bytes, K/KB, M/MB, G/GB (binary) and refuses anything else', () => {
    expect(parseSize('100')).toBe(100);
    expect(parseSize('512K')).toBe(512 * 1024);
    expect(parseSize('10MB')).toBe(10 * 1024 * 1024);
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(parseSize('7B')).toBe(7);
    expect(() => parseSize('ten')).toThrow(/not a size/);
    expect(() => parseSize('10MiB')).toThrow(/not a size/);
  });
});

describe('rotateLogs with a live writer', () => {
  it('copies and truncates in place: the writer keeps appending to the same file from offset 0, exactly keep copies, no line lost', async () => {
    const dir = scratch('rot');
    const log = join(dir, 'web.log');
    const w = startWriter(log);
    expect(await w.send('burst 5')).toBe('wrote 5');
    const inode = statSync(log).ino;
    expect(rotateLogs({ files: [log], maxSize: '4K', keep: 3 })).toEqual({ checked: 1, rotated: [], skipped: [], errors: [] });
    expect(statSync(log).size).toBe(5 * LINE_BYTES);

    for (let round = 1; round <= 6; round++) {
      await w.send('burst 100');
      const size = statSync(log).size;
      expect(size).toBeGreaterThan(4096);
      const report = rotateLogs({ files: () => [log], maxSize: '4K', keep: 3 });
      expect(report).toEqual({ checked: 1, rotated: [{ file: log, size }], skipped: [], errors: [] });
      expect(statSync(log).size).toBe(0);
      expect(statSync(log).ino).toBe(inode);
      expect(statSync(`${log}.1`).size).toBe(size);
    }
    expect(await w.send('burst 3')).toBe('wrote 608');

    // the writer wrote on into the truncated file, at its new end (not at its old offset: no sparse hole)
    expect(seqs(log).nums).toEqual([606, 607, 608]);
    expect(statSync(log).size).toBe(3 * ('seq 606 '.length + 50 + 1));
    expect(statSync(log).size).toBeLessThanOrEqual(4096);
    expect(seqs(`${log}.1`).nums).toEqual(range(506, 605));
    expect(seqs(`${log}.2`).nums).toEqual(range(406, 505));
    expect(seqs(`${log}.3`).nums).toEqual(range(306, 405));
    expect(existsSync(`${log}.4`)).toBe(false);
  });

  it('rotates several times while the writer never stops; lines stay in order and whole, the writer keeps its file', async () => {
    const dir = scratch('rot');
    const log = join(dir, 'busy.log');
    const w = startWriter(log);
    await w.send('burst 1');
    const inode = statSync(log).ino;
    expect(await w.send('run')).toBe('running');
    let rotations = 0;
    while (rotations < 8) {
      if (statSync(log).size > 8192) {
        const report = rotateLogs({ files: [log], maxSize: '8K', keep: 4 });
        expect(report.errors).toEqual([]);
        rotations += report.rotated.length;
      } else {
        await sleep(5);
      }
    }
    const last = Number((await w.send('stop')).replace('wrote ', ''));
    expect(statSync(log).ino).toBe(inode);
    rotateLogs({ files: [log], maxSize: '8K', keep: 4 });
    expect(statSync(log).size).toBeLessThanOrEqual(8192);

    const files = [`${log}.4`, `${log}.3`, `${log}.2`, `${log}.1`, log];
    for (const f of files) expect(lstatSync(f).isFile()).toBe(true);
    expect(existsSync(`${log}.5`)).toBe(false);
    const parsed = files.map(seqs);
    // Only a rotated copy may end in a torn line (a write caught by the copy-truncate window), never the live file.
    expect(parsed.at(-1)!.torn).toBeUndefined();
    const all = parsed.flatMap((p) => p.nums);
    // in order across the copies and the live file; inside each file there is no gap at all
    for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1]!);
    for (const p of parsed) if (p.nums.length > 0) expect(p.nums).toEqual(range(p.nums[0]!, p.nums.at(-1)!));
    expect(all.at(-1)).toBe(last);
  });
});

describe('rotateLogs safety', () => {
  it('never follows a symlink out of the root, skips vanished files, and removes copies beyond a lowered keep', () => {
    const root = scratch('root');
    const outside = scratch('outside');
    const paths = { root, instances: join(root, 'instances'), releases: join(root, 'releases') };
    const logs = join(paths.instances, 'web', 'logs');
    mkdirSync(logs, { recursive: true });
    const big = 'y'.repeat(300) + '\n';
    const target = join(outside, 'target.log');
    writeFileSync(target, big);
    const planted = join(outside, 'planted.txt');
    writeFileSync(planted, 'keep me\n');

    // a log file that is a symlink to a file outside
    symlinkSync(target, join(logs, 'evil.log'));
    // a logs folder that is a symlink to a folder outside
    mkdirSync(join(paths.instances, 'api'));
    symlinkSync(outside, join(paths.instances, 'api', 'logs'));
    // a rotated copy planted as a symlink to a file outside, and copies beyond keep
    const web = join(logs, 'web.log');
    writeFileSync(web, big);
    symlinkSync(planted, `${web}.1`);
    for (const n of [3, 4, 7]) writeFileSync(`${web}.${n}`, `old ${n}\n`);

    expect(logFilesOf(paths)).toEqual([web]);
    const viaDir = join(paths.instances, 'api', 'logs', 'target.log');
    const report = rotateLogs({ files: [join(logs, 'evil.log'), viaDir, join(logs, 'gone.log'), web], maxSize: '100', keep: 2, within: logRoots(paths) });
    expect(report).toEqual({
      checked: 4,
      rotated: [{ file: web, size: big.length }],
      skipped: [
        { file: join(logs, 'evil.log'), reason: 'a symlink' },
        { file: viaDir, reason: 'outside the deployment root' },
        { file: join(logs, 'gone.log'), reason: 'vanished' },
      ],
      errors: [],
    });
    expect(readFileSync(target, 'utf8')).toBe(big);
    expect(existsSync(`${target}.1`)).toBe(false);
    expect(readFileSync(planted, 'utf8')).toBe('keep me\n');
    expect(lstatSync(`${web}.1`).isFile()).toBe(true);
    expect(readFileSync(`${web}.1`, 'utf8')).toBe(big);
    expect(lstatSync(`${web}.2`).isSymbolicLink()).toBe(true); // the planted link moved along, never written through
    for (const n of [3, 4, 7]) expect(existsSync(`${web}.${n}`)).toBe(false);

    writeFileSync(web, big);
    rotateLogs({ files: [web], maxSize: '100', keep: 2, within: logRoots(paths) });
    expect(lstatSync(`${web}.2`).isFile()).toBe(true);
    expect(readFileSync(planted, 'utf8')).toBe('keep me\n');

    // keep 0: truncate only, and no copies left
    writeFileSync(web, big);
    expect(rotateLogs({ files: [web], maxSize: '100', keep: 0 }).rotated).toEqual([{ file: web, size: big.length }]);
    expect(statSync(web).size).toBe(0);
    expect(existsSync(`${web}.1`) || existsSync(`${web}.2`)).toBe(false);
  });
});

describe('logFilesOf', () => {
  it('lists instances/*/logs/*.log and each release build.log, not copies, other files or builds in progress', () => {
    const root = scratch('root');
    const paths = { instances: join(root, 'instances'), releases: join(root, 'releases') };
    const files = {
      'instances/web/logs/web.log': true,
      'instances/web/logs/tmux.log': true,
      'instances/web/logs/web.log.1': false,
      'instances/web/logs/notes.txt': false,
      'instances/web/web.log': false,
      'instances/api/logs/api.log': true,
      'releases/v1.0.0/build.log': true,
      'releases/v1.1.0/build.log': true,
      'releases/v1.1.0/server.log': false,
      'releases/.staging-v1.2.0-123/build.log': false,
    };
    mkdirSync(join(root, 'releases', 'v0.9.0'), { recursive: true });
    for (const rel of Object.keys(files)) {
      mkdirSync(join(root, rel, '..'), { recursive: true });
      writeFileSync(join(root, rel), 'x\n');
    }
    const want = Object.entries(files).filter(([, listed]) => listed).map(([rel]) => join(root, rel)).sort();
    expect(logFilesOf(paths)).toEqual(want);
    expect(logFilesOf({ instances: join(root, 'none'), releases: join(root, 'none') })).toEqual([]);
  });
});
