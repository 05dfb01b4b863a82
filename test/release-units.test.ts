// Release pieces on their own: validation of real release folders and tars, locks, retention, durations, commands.
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { splitCommand } from '../src/shared/command.js';
import { parseDuration } from '../src/shared/duration.js';
import { sha256File } from '../src/release/files.js';
import { releasesInUse } from '../src/release/in-use.js';
import { acquireLock, readLockOwner, tryAcquireLock } from '../src/fs/lock.js';
import { planPrune } from '../src/release/prune.js';
import { runBuildCommand } from '../src/release/run.js';
import { imageArchiveProblem } from '../src/release/tar.js';
import { validateRelease } from '../src/release/validate.js';
import { instanceState, observedItem, resolved, validEntry } from './helpers/planner-fixtures.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

/** A valid release folder made by hand: bin/app and, optionally, an image tar. */
async function release(version = 'v1.0.0', withImage = false): Promise<string> {
  const dir = join(scratch('rel'), version);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'bin/app'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  const manifest: Record<string, unknown> = {
    version, commit: 'c'.repeat(40), builtAt: '2026-01-01T00:00:00.000Z', builtBy: 'ci@host', tendVersion: '0.1.0', build: './build.sh',
    artifacts: [{ path: 'bin/app', sha256: sha256File(join(dir, 'bin/app')), size: 18, mode: '0755' }],
  };
  if (withImage) {
    const src = join(dir, '..', 'img');
    mkdirSync(src);
    writeFileSync(join(src, 'manifest.json'), JSON.stringify([{ Config: 'x.json', RepoTags: null, Layers: [] }]));
    await execa('tar', ['-C', src, '-cf', join(dir, 'container-image.tar'), 'manifest.json']);
    manifest.image = { name: 'app:latest', id: 'sha256:abc', sha256: sha256File(join(dir, 'container-image.tar')) };
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

describe('validateRelease', () => {
  it('accepts an intact release and names what is wrong with a tampered one', async () => {
    const dir = await release();
    expect(validateRelease(dir)).toMatchObject({ valid: true, commit: 'c'.repeat(40) });
    writeFileSync(join(dir, 'bin/app'), '#!/bin/sh\necho HI\n');
    expect(validateRelease(dir)).toMatchObject({ valid: false, problem: 'artifact bin/app does not match its checksum', commit: 'c'.repeat(40) });
    chmodSync(join(dir, 'bin/app'), 0o644);
    expect(validateRelease(dir).problem).toBe('artifact bin/app is not executable');
    truncateSync(join(dir, 'manifest.json'), 10);
    expect(validateRelease(dir).problem).toMatch(/^manifest.json is unreadable: /);
  });

  it('reports a missing artifact and a manifest naming another version', async () => {
    const dir = await release('v2.0.0');
    const other = join(dir, '..', 'v2.0.1');
    await execa('cp', ['-a', dir, other]);
    expect(validateRelease(other).problem).toBe('manifest.json names version v2.0.0, not v2.0.1');
    await execa('rm', [join(dir, 'bin/app')]);
    expect(validateRelease(dir).problem).toBe('artifact bin/app is missing');
  });

  it('checks the image tar: checksum, and a readable archive with manifest.json', async () => {
    const dir = await release('v1.0.0', true);
    expect(validateRelease(dir).valid).toBe(true);
    const tar = join(dir, 'container-image.tar');
    truncateSync(tar, 700);
    expect(validateRelease(dir).problem).toBe('container-image.tar does not match its checksum');
    expect(imageArchiveProblem(tar)).toMatch(/^is not a readable tar archive \(truncated/);
    const src = join(scratch('tar'), 'x');
    mkdirSync(src);
    writeFileSync(join(src, 'readme.txt'), 'not an image');
    await execa('tar', ['-C', src, '-cf', join(src, '..', 'plain.tar'), 'readme.txt']);
    expect(imageArchiveProblem(join(src, '..', 'plain.tar'))).toBe('is not an image archive (no manifest.json or index.json)');
    writeFileSync(join(src, '..', 'junk.tar'), 'x'.repeat(2048));
    expect(imageArchiveProblem(join(src, '..', 'junk.tar'))).toMatch(/^is not a readable tar archive \(bad tar header checksum/);
  });
});

describe('lock files', () => {
  it('a lock held by a live process makes others wait; one left by a dead process is recovered', async () => {
    const dir = scratch('lock');
    const path = join(dir, '.lock-v1.0.0');
    const held = tryAcquireLock(path, { purpose: 'build v1.0.0' })!;
    expect(readLockOwner(path)).toMatchObject({ pid: process.pid, hostname: hostname(), purpose: 'build v1.0.0' });
    expect(tryAcquireLock(path)).toBeUndefined();
    const waits: unknown[] = [];
    await expect(acquireLock(path, { timeoutMs: 200, onWait: (o) => waits.push(o) })).rejects.toThrow(/^gave up after 0s waiting for .*\.lock-v1\.0\.0, held by pid \d+/);
    expect(waits).toHaveLength(1);
    setTimeout(() => held.release(), 100);
    expect((await acquireLock(path, { timeoutMs: 5_000 })).waited).toBe(true);

    const dead = await execa('node', ['-e', 'process.stdout.write(String(process.pid))']);
    const stale = join(dir, '.lock-v2.0.0');
    writeFileSync(stale, JSON.stringify({ pid: Number(dead.stdout), hostname: hostname(), startedAt: '2026-01-01T00:00:00Z' }));
    const recovered: unknown[] = [];
    const got = await acquireLock(stale, { timeoutMs: 1_000, onStale: (o) => recovered.push(o) });
    expect(recovered).toEqual([{ pid: Number(dead.stdout), hostname: hostname(), startedAt: '2026-01-01T00:00:00Z' }]);
    expect(got.waited).toBe(false);
    got.lock.release();
    got.lock.release();
  });
});

describe('planPrune (pure)', () => {
  const six = ['v1.2.1', 'v1.2.2', 'v1.2.3', 'v1.2.4', 'v1.2.5', 'v1.2.6'].map((version) => ({ version }));

  it('keeps the N newest plus what is in use: v1.2.1..v1.2.6, v1.2.5 and v1.2.6 in use, keep 3', () => {
    const inUse = new Map([['v1.2.5', ['api (runs)']], ['v1.2.6', ['web (wants)']]]);
    const p = planPrune({ releases: six, inUse, keep: 3 });
    expect(p.delete).toEqual(['v1.2.1', 'v1.2.2', 'v1.2.3']);
    expect(p.keep).toEqual([
      { version: 'v1.2.4', newest: true, usedBy: [] },
      { version: 'v1.2.5', newest: true, usedBy: ['api (runs)'] },
      { version: 'v1.2.6', newest: true, usedBy: ['web (wants)'] },
    ]);
  });

  it('a release in use survives keep 1 (and keep 0)', () => {
    const inUse = new Map([['v1.2.2', ['web (rollback)']]]);
    expect(planPrune({ releases: six, inUse, keep: 1 }).delete).toEqual(['v1.2.1', 'v1.2.3', 'v1.2.4', 'v1.2.5']);
    expect(planPrune({ releases: six, inUse, keep: 0 }).delete).toEqual(['v1.2.1', 'v1.2.3', 'v1.2.4', 'v1.2.5', 'v1.2.6']);
  });

  it('orders by semver, not text, and falls back to build time for other names', () => {
    const rs = [{ version: 'v1.10.0' }, { version: 'v1.9.0' }, { version: 'nightly', builtAt: '2026-01-02T00:00:00Z' }, { version: 'old', builtAt: '2025-01-01T00:00:00Z' }];
    expect(planPrune({ releases: rs.slice(0, 2), inUse: new Map(), keep: 1 }).delete).toEqual(['v1.9.0']);
    expect(planPrune({ releases: rs.slice(2), inUse: new Map(), keep: 1 }).delete).toEqual(['old']);
    expect(() => planPrune({ releases: rs, inUse: new Map(), keep: -1 })).toThrow('keep must be a whole number >= 0, not -1');
  });
});

describe('releasesInUse (pure)', () => {
  it('collects wanted (resolved) versions, running versions, applied versions and rollback targets', () => {
    const web = validEntry('web', { version: 'latest' });
    const api = validEntry('api', { version: 'v1.2.0' });
    const state = { ...instanceState('api'), history: [
      { version: 'v1.0.0', updatedAt: 't1', updatedBy: 'x', reason: 'create' as const, outcome: 'healthy' as const },
      { version: 'v1.1.0', updatedAt: 't2', updatedBy: 'x', reason: 'update' as const, outcome: 'healthy' as const },
      { version: 'v1.2.0', updatedAt: 't3', updatedBy: 'x', reason: 'update' as const, outcome: 'failed' as const },
    ] };
    const m = releasesInUse({
      entries: [web, api],
      resolutions: { latest: resolved('v1.3.0', 'c1'), 'v1.2.0': resolved('v1.2.0', 'c2') },
      items: [observedItem('systemd', 'api', { version: 'v1.1.0' })],
      states: { api: state },
      built: [],
    });
    expect(Object.fromEntries(m)).toEqual({ 'v1.3.0': ['web (wants)'], 'v1.2.0': ['api (wants)'], 'v1.1.0': ['api (rollback)', 'api (runs)'] });
  });

  it('protects the newest built release when latest cannot be resolved', () => {
    const m = releasesInUse({ entries: [validEntry('web', { version: 'latest' })], resolutions: {}, items: [], states: {}, built: ['v1.9.0', 'v1.10.0'] });
    expect(Object.fromEntries(m)).toEqual({ 'v1.10.0': ['web (wants latest, unresolved)'] });
  });
});

describe('durations and build commands', () => {
  it('parses durations', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(() => parseDuration('10 minutes')).toThrow('"10 minutes" is not a duration such as 500ms, 30s, 2m or 1h');
  });

  it('splits a build command into an argument array and refuses shell syntax', () => {
    expect(splitCommand('./build.sh')).toEqual(['./build.sh']);
    expect(splitCommand(`make  release "NAME=two words" '&&'`)).toEqual(['make', 'release', 'NAME=two words', '&&']);
    expect(() => splitCommand('make && ./package.sh')).toThrow('build command "make && ./package.sh" uses shell syntax (&&), but it runs without a shell: put the steps in a script such as ./build.sh');
    expect(() => splitCommand('./build.sh >out')).toThrow(/uses shell syntax/);
    expect(() => splitCommand('"unclosed')).toThrow('build command has an unclosed "');
  });
});

describe('runBuildCommand', () => {
  const run = (dir: string, command: string) => {
    const fd = openSync(join(dir, 'build.log'), 'w');
    return runBuildCommand({ command, cwd: dir, env: {}, timeoutMs: 30_000, logFd: fd }).finally(() => closeSync(fd));
  };

  it('a missing, non-executable or unknown build command is a spawn error in plain words; a bare name is found on PATH', async () => {
    const dir = scratch('run');
    writeFileSync(join(dir, 'build.sh'), '#!/bin/sh\necho built in "$PWD"\n', { mode: 0o644 });
    await expect(run(dir, './build.sh')).rejects.toMatchObject({ failure: 'spawn', message: 'cannot run build command ./build.sh: not executable (chmod +x)' });
    await expect(run(dir, './nope.sh')).rejects.toMatchObject({ failure: 'spawn', message: 'build command ./nope.sh does not exist in the checked-out tag' });
    await expect(run(dir, 'tend-no-such-tool')).rejects.toMatchObject({ failure: 'spawn', message: 'cannot run build command tend-no-such-tool: not found' });
    await run(dir, 'sh ./build.sh');
    expect(readFileSync(join(dir, 'build.log'), 'utf8')).toContain(`built in ${dir}\n`);
  });
});
