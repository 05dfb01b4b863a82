// I/O errors name the file they happened on, on a real full disk: small tmpfs mounts (root only), filled up,
// under tend's writers (atomic writes, exclusive creates, history appends, locks) and under the CLI (reconcile,
// restart, releases build). The old content stays, and no temporary or empty lock file is left behind.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileExclusive, writeFileAtomic } from '../../src/fs/atomic.js';
import { loadConfig } from '../../src/spec/config.js';
import { appendHistory, readHistory } from '../../src/state/history.js';
import { withInstanceLock } from '../../src/state/lock.js';
import { backendGate } from '../helpers/backends.js';
import { buildOnce, tend } from '../helpers/cli.js';
import { git } from '../helpers/release-app.js';
import { useScratch } from '../helpers/scratch.js';
import { freePort } from '../fixtures/app.js';
import { fixtureRoot, harnesses, quietYaml } from '../drivers/contract-backends.js';

const scratch = useScratch();
const isRoot = process.getuid?.() === 0;
const PAGE = 4096;
const ENOSPC = 'no space left on device (ENOSPC)';

/** Mounts a tmpfs of `kib` KiB at `dir` (made if missing); unmount() in cleanup. */
async function tmpfs(dir: string, kib: number): Promise<{ dir: string; unmount(): Promise<void>; fill(pagesFree?: number): void; remount(opt: 'ro' | 'rw'): Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0755`, 'tmpfs', dir]);
  const filler = join(dir, '.filler');
  return {
    dir,
    async unmount() {
      const r = await execa('umount', [dir], { reject: false });
      if (r.exitCode !== 0) await execa('umount', ['-l', dir], { reject: false });
    },
    /** Writes zeros until the disk is full, then frees `pagesFree` pages again. */
    fill(pagesFree = 0) {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(PAGE);
      let size = readFileSync(filler).length;
      try {
        for (;;) size += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
      ftruncateSync(fd, Math.max(0, Math.floor(size / PAGE) - pagesFree) * PAGE);
      closeSync(fd);
    },
    async remount(opt) {
      await execa('mount', ['-o', `remount,${opt}`, dir]);
    },
  };
}

const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

describe.skipIf(!isRoot)('tend\'s writers on a full disk (tmpfs)', () => {
  let disk: Awaited<ReturnType<typeof tmpfs>>;
  let dir: string;
  beforeAll(async () => {
    disk = await tmpfs(join(scratch('io-unit'), 'mnt'), 64);
    dir = join(disk.dir, 'instances', 'web');
    mkdirSync(join(disk.dir, 'instances', '.locks'), { recursive: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'status.json'), '{"phase":"Ready"}\n');
    // A history line of exactly one page: the next append needs a new page.
    const base = { version: 'v1.0.0', updatedAt: '2026-01-01T00:00:00.000Z', updatedBy: 'ops', reason: 'create', outcome: 'healthy', detail: '' };
    base.detail = 'x'.repeat(PAGE - 1 - JSON.stringify(base).length);
    writeFileSync(join(dir, '.version-history'), `${JSON.stringify(base)}\n`);
    expect(readFileSync(join(dir, '.version-history')).length).toBe(PAGE);
    disk.fill();
  });
  afterAll(async () => {
    await disk.unmount();
  });

  it('writeFileAtomic: `cannot write FILE: no space left on device (ENOSPC)`, the old content kept, no temporary file left', () => {
    const file = join(dir, 'status.json');
    expect(() => writeFileAtomic(file, '{"phase":"Failed"}\n')).toThrow(`cannot write ${file}: ${ENOSPC}`);
    expect(readFileSync(file, 'utf8')).toBe('{"phase":"Ready"}\n');
    expect(leftovers(dir)).toEqual([]);
  });

  it('writeFileAtomic with room for part of the data: an error, not a cut-off file', () => {
    const file = join(dir, 'config.yaml');
    disk.fill(2);
    try {
      expect(() => writeFileAtomic(file, `title: ${'y'.repeat(64 * 1024)}\n`)).toThrow(`cannot write ${file}: ${ENOSPC}`);
      expect(existsSync(file)).toBe(false);
      expect(leftovers(dir)).toEqual([]);
    } finally {
      disk.fill();
    }
  });

  it('createFileExclusive: `cannot create FILE: ...`, nothing left', () => {
    const file = join(dir, 'adopted.json');
    let err: NodeJS.ErrnoException | undefined;
    try {
      createFileExclusive(file, '{}\n'.repeat(2000));
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.message).toBe(`cannot create ${file}: ${ENOSPC}`);
    expect(err?.code).toBe('ENOSPC');
    expect(readdirSync(dir).filter((n) => n.startsWith('adopted.json'))).toEqual([]);
  });

  it('appendHistory: `cannot append to FILE: ...`, every line kept', () => {
    const file = join(dir, '.version-history');
    const before = readFileSync(file, 'utf8');
    expect(() => appendHistory(file, { version: 'v1.1.0', updatedAt: '2026-01-02T00:00:00.000Z', updatedBy: 'ops', reason: 'update', outcome: 'healthy' }))
      .toThrow(`cannot append to ${file}: ${ENOSPC}`);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(readHistory(file)).toHaveLength(1);
  });

  it('the instance lock: `cannot create .../.locks/web.lock: ...` and no empty lock file to hold others off', async () => {
    const paths = { instances: join(disk.dir, 'instances') };
    await expect(withInstanceLock(paths, 'web', () => 'never')).rejects.toThrow(`cannot create ${join(paths.instances, '.locks', 'web.lock')}: ${ENOSPC}`);
    expect(readdirSync(join(paths.instances, '.locks'))).toEqual([]);
  });

  it('a read-only file system: `cannot write FILE: read-only file system (EROFS)`', async () => {
    const file = join(dir, 'status.json');
    await disk.remount('ro');
    try {
      expect(() => writeFileAtomic(file, '{}\n')).toThrow(`cannot write ${file}: read-only file system (EROFS)`);
    } finally {
      await disk.remount('rw');
    }
  });
});

const tmux = await backendGate('tmux');
const h = harnesses.find((x) => x.runtime === 'tmux')!;

describe.skipIf(!isRoot || tmux.skip)('the CLI on a full instances/ (tmpfs mounted there, real tmux)', () => {
  const app = `io${process.pid}${randomBytes(2).toString('hex')}`;
  let root: string;
  let disk: Awaited<ReturnType<typeof tmpfs>>;
  const run = (args: string[]) => tend(args, { cwd: root, stdin: 'ignore' });
  const statusOf = () => JSON.parse(readFileSync(join(root, 'instances', 'web', 'status.json'), 'utf8')) as { phase: string; message?: string };

  beforeAll(async () => {
    tmux.check();
    await buildOnce();
    root = scratch('io-cli');
    await fixtureRoot(h, root, app, { runtimeYaml: `${quietYaml(h, app)}\ndefaults:\n  runtime: tmux` });
    const port = await freePort();
    // A config.yaml of 200 KiB cannot fit where status.json (a page) still does.
    writeFileSync(join(root, 'desired', 'web.yaml'), `version: v1.0.0\nport: ${port}\nconfig:\n  blob: ${'z'.repeat(200 * 1024)}\n`);
    expect((await run(['releases', 'build', 'v1.0.0'])).code).toBe(0);
    disk = await tmpfs(join(root, 'instances'), 128);
  }, 180_000);
  afterAll(async () => {
    await disk?.unmount();
    await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!).catch(() => undefined);
  }, 60_000);

  it('tend reconcile: write-config fails naming instances/web/config.yaml; status.json says the same', async () => {
    disk.fill(8);
    const r = await run(['reconcile']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot write instances/web/config.yaml: ${ENOSPC}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(statusOf()).toMatchObject({ phase: 'Failed', message: `write-config failed: cannot write instances/web/config.yaml: ${ENOSPC}` });
    expect(existsSync(join(root, 'instances', 'web', 'config.yaml'))).toBe(false);
  }, 120_000);

  it('tend reconcile on a disk with no room at all names the file it could not write; no stack trace', async () => {
    disk.fill();
    const r = await run(['reconcile']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`cannot (create|write) instances/(\\.locks/web\\.lock|web/status\\.json): no space left on device \\(ENOSPC\\)`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(join(root, 'instances', '.locks'))).toEqual([]);
  }, 120_000);

  it('tend restart --no-apply names instances/web/requests.json', async () => {
    const r = await run(['restart', 'web', '--no-apply']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot write instances/web/requests.json: ${ENOSPC}`);
  }, 60_000);
});

describe.skipIf(!isRoot)('tend releases build on a full releases/ (tmpfs)', () => {
  let root: string;
  let disk: Awaited<ReturnType<typeof tmpfs>>;
  beforeAll(async () => {
    await buildOnce();
    const base = scratch('io-release');
    const repo = join(base, 'repo');
    root = join(base, 'root');
    mkdirSync(repo);
    mkdirSync(join(root, 'desired'), { recursive: true });
    await git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'build.sh'), '#!/bin/sh\nmkdir -p bin\nhead -c 1048576 /dev/zero > bin/app\nchmod +x bin/app\n');
    chmodSync(join(repo, 'build.sh'), 0o755);
    await git(repo, 'add', '.');
    await git(repo, 'commit', '-q', '-m', 'v1');
    await git(repo, 'tag', 'v1.0.0');
    writeFileSync(join(root, 'tend.yaml'), `apiVersion: tend/v1\napp: iorel\nsource:\n  repo: ${repo}\n  artifacts: [bin/app]\n  run:\n    artifact: bin/app\n`);
    disk = await tmpfs(join(root, 'releases'), 256);
  }, 120_000);
  afterAll(async () => {
    await disk?.unmount();
  });

  it('the artifact copy names its file; nothing is left under releases/', async () => {
    const r = await tend(['releases', 'build', 'v1.0.0'], { cwd: root, stdin: 'ignore' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`cannot write releases/\\.staging-v1\\.0\\.0-\\d+/bin/app: no space left on device \\(ENOSPC\\)`));
    expect(readdirSync(join(root, 'releases')).filter((n) => !n.startsWith('.lock'))).toEqual([]);
  }, 120_000);
});
