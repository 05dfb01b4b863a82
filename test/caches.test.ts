// The loader's cache of parsed desired files and the tag listing cache: an unchanged input is not
// read again, and any change is seen at the next call (real files, real git; no mocks).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { clearDesiredCache, desiredCacheStats, loadDesired } from '../src/spec/desired.js';
import { clearTagCache, resolveVersions, tagCacheOptions, tagCacheStats } from '../src/release/tags.js';
import { REPO } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const CORPUS = join(REPO, 'test', 'corpus');

function rootWith(tendYaml: string, files: Record<string, string>): string {
  const root = scratch('cache');
  writeFileSync(join(root, 'tend.yaml'), tendYaml);
  mkdirSync(join(root, 'desired'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'desired', name), text);
  return root;
}

function load(root: string) {
  const config = loadConfig({ cwd: root, env: {} }).config!;
  return loadDesired({ root, desiredDir: join(root, 'desired'), config, platform: 'linux', launchdWarn: true, autoRuntime: 'tmux' });
}

const delta = <T extends Record<string, number>>(stats: T, f: () => void): T => {
  const before = { ...stats };
  f();
  return Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, v - before[k]!])) as T;
};

describe('desired file cache', () => {
  it('parses an unchanged file once; the cached load equals an uncached one', () => {
    const root = rootWith('apiVersion: tend/v1\napp: c\n', {
      'web.yaml': 'version: v1.0.0\nport: 9001\nruntime: tmux\n',
      'api.yaml': 'version: v1.0.0\nport: 9002\nruntime: launchd\n',
      'bad.yaml': 'version: v1.0.0\nport: [1\n',
    });
    let first!: ReturnType<typeof load>;
    let second!: ReturnType<typeof load>;
    expect(delta(desiredCacheStats, () => (first = load(root)))).toEqual({ parses: 3, hits: 0 });
    expect(delta(desiredCacheStats, () => (second = load(root)))).toEqual({ parses: 0, hits: 3 });
    expect(second).toEqual(first);
    expect(second.entries.map((e) => e.status)).toEqual(['valid', 'invalid', 'valid']);
    expect(second.diagnostics.length).toBeGreaterThan(1);
  });

  it('every corpus case loads the same from the cache as without it, diagnostics positions included', () => {
    const config = loadConfig({ cwd: CORPUS, env: {} }).config!;
    const cases = readdirSync(join(CORPUS, 'cases')).filter((c) => existsSync(join(CORPUS, 'cases', c, 'desired')));
    expect(cases.length).toBeGreaterThan(20);
    let total = 0;
    for (const c of cases) {
      const root = join(CORPUS, 'cases', c);
      const opts = { root, desiredDir: join(root, 'desired'), config, platform: 'linux', launchdWarn: true };
      clearDesiredCache();
      let uncached!: ReturnType<typeof loadDesired>;
      let cached!: ReturnType<typeof loadDesired>;
      const parsed = delta(desiredCacheStats, () => (uncached = loadDesired(opts))).parses;
      // Every file that was parsed comes from the cache the second time (name and size guards come first).
      expect(delta(desiredCacheStats, () => (cached = loadDesired(opts))), c).toEqual({ parses: 0, hits: parsed });
      expect(cached, c).toEqual(uncached);
      total += parsed;
    }
    expect(total).toBeGreaterThan(20);
  });

  it('cross-file errors (shared port, duplicate name) are the same from the cache, and do not stick to it', () => {
    const root = rootWith('apiVersion: tend/v1\napp: c\n', {
      'a.yaml': 'version: v1.0.0\nport: 9001\n',
      'b.yaml': 'version: v1.0.0\n\nport: 9001\n',
    });
    const first = load(root);
    expect(first.entries.map((e) => e.status)).toEqual(['invalid', 'invalid']);
    const again = load(root);
    expect(again).toEqual(first);
    expect(again.diagnostics.filter((d) => d.message.startsWith('port 9001')).map((d) => [d.file, d.line])).toEqual([['desired/a.yaml', 2], ['desired/b.yaml', 3]]);
    writeFileSync(join(root, 'desired', 'b.yaml'), 'version: v1.0.0\n\nport: 9002\n');
    const fixed = load(root);
    expect(fixed.entries.map((e) => e.status)).toEqual(['valid', 'valid']);
    expect(fixed.diagnostics).toEqual([]);
  });

  it('a rewrite of the same size with the same mtime is still seen (the content is the key)', () => {
    const root = rootWith('apiVersion: tend/v1\napp: c\n', { 'web.yaml': 'version: v1.0.0\nport: 9001\n' });
    const file = join(root, 'desired', 'web.yaml');
    const before = statSync(file);
    const first = load(root);
    writeFileSync(file, 'version: v1.1.0\nport: 9002\n');
    utimesSync(file, before.atime, (Math.floor(before.mtimeMs) + 0.5) / 1000);
    expect(statSync(file).size).toBe(before.size);
    expect(Math.floor(statSync(file).mtimeMs)).toBe(Math.floor(before.mtimeMs));
    let next!: ReturnType<typeof load>;
    expect(delta(desiredCacheStats, () => (next = load(root)))).toEqual({ parses: 1, hits: 0 });
    expect(first.entries[0]).toMatchObject({ status: 'valid', spec: { version: 'v1.0.0', port: 9001 } });
    expect(next.entries[0]).toMatchObject({ status: 'valid', spec: { version: 'v1.1.0', port: 9002 } });
  });

  it('a change of tend.yaml (defaults merged under every file) parses the files again', () => {
    const root = rootWith('apiVersion: tend/v1\napp: c\ndefaults:\n  env:\n    LEVEL: info\n', { 'web.yaml': 'version: v1.0.0\nport: 9001\n' });
    expect(load(root).entries[0]).toMatchObject({ spec: { env: { LEVEL: 'info' } } });
    writeFileSync(join(root, 'tend.yaml'), 'apiVersion: tend/v1\napp: c\ndefaults:\n  env:\n    LEVEL: debug\n');
    let next!: ReturnType<typeof load>;
    expect(delta(desiredCacheStats, () => (next = load(root)))).toEqual({ parses: 1, hits: 0 });
    expect(next.entries[0]).toMatchObject({ spec: { env: { LEVEL: 'debug' } } });
  });

  it('changing a loaded result (parsed or from the cache) does not change what the next load returns', () => {
    const root = rootWith('apiVersion: tend/v1\napp: c\n', { 'web.yaml': 'version: v1.0.0\nport: 9001\nruntime: tmux\n', 'x.yaml': 'port: nine\n' });
    const spoil = (state: ReturnType<typeof load>) => {
      const web = state.entries.find((e) => e.name === 'web')!;
      if (web.status !== 'valid') throw new Error('web should be valid');
      web.spec.env.ADDED = '1';
      web.positions.port!.line = 99;
      const x = state.entries.find((e) => e.name === 'x')!;
      if (x.status !== 'invalid') throw new Error('x should be invalid');
      x.diagnostics.push({ severity: 'error', message: 'added by the test' });
      x.diagnostics[0]!.line = 77;
    };
    const parsed = load(root);
    const snapshot = structuredClone(parsed);
    spoil(parsed);
    const fromCache = load(root);
    expect(fromCache).toEqual(snapshot);
    spoil(fromCache);
    expect(load(root)).toEqual(snapshot);
  });
});

const git = (cwd: string, ...args: string[]) =>
  execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false', ...args], { cwd });

describe('tag listing cache', () => {
  let repo: string;
  const commits: string[] = [];
  const racyMs = tagCacheOptions.racyMs;

  beforeAll(async () => {
    repo = scratch('tags');
    await git(repo, 'init', '-q', '-b', 'main');
    for (const n of ['1', '2', '3']) {
      writeFileSync(join(repo, 'N'), n);
      await git(repo, 'add', 'N');
      await git(repo, 'commit', '-q', '-m', n);
      commits.push((await git(repo, 'rev-parse', 'HEAD')).stdout.trim());
    }
    await git(repo, 'tag', 'v1.0.0', commits[0]!);
  });

  afterEach(() => {
    tagCacheOptions.racyMs = racyMs;
    clearTagCache();
  });

  const resolve = async (dir: string, versions: string[]) => {
    const before = { ...tagCacheStats };
    const res = await resolveVersions(dir, '/', versions);
    return { res, listings: tagCacheStats.listings - before.listings, hits: tagCacheStats.hits - before.hits };
  };

  it('lists a repository whose refs just changed every time (racily clean), and sees a new tag', async () => {
    await git(repo, 'tag', 'v1.1.0', commits[1]!);
    expect(await resolve(repo, ['latest'])).toEqual({ res: { latest: { status: 'resolved', tag: 'v1.1.0', commit: commits[1] } }, listings: 1, hits: 0 });
    expect((await resolve(repo, ['latest'])).listings).toBe(1);
    await git(repo, 'tag', 'v1.2.0', commits[2]!);
    expect((await resolve(repo, ['latest'])).res.latest).toEqual({ status: 'resolved', tag: 'v1.2.0', commit: commits[2] });
  });

  it('an unchanged repository is not listed again; a new, moved, deleted or packed tag is seen at the next call', async () => {
    // No racy window: only the fingerprint of the refs decides (what a quiet repository gets after 3 s).
    tagCacheOptions.racyMs = -Infinity;
    expect(await resolve(repo, ['v1.0.0', 'v9.0.0'])).toMatchObject({ listings: 1, hits: 0 });
    expect(await resolve(repo, ['v1.0.0', 'v9.0.0'])).toEqual({
      res: { 'v1.0.0': { status: 'resolved', tag: 'v1.0.0', commit: commits[0] }, 'v9.0.0': { status: 'not-found', reason: 'Git tag v9.0.0 not found' } },
      listings: 0, hits: 1,
    });
    await git(repo, 'tag', 'v9.0.0', commits[1]!);
    expect(await resolve(repo, ['v9.0.0'])).toEqual({ res: { 'v9.0.0': { status: 'resolved', tag: 'v9.0.0', commit: commits[1] } }, listings: 1, hits: 0 });
    await git(repo, 'tag', '-f', 'v9.0.0', commits[2]!);
    expect((await resolve(repo, ['v9.0.0'])).res['v9.0.0']).toEqual({ status: 'resolved', tag: 'v9.0.0', commit: commits[2] });
    // Moved twice in a row: the second move must be seen too.
    await git(repo, 'tag', '-f', 'v9.0.0', commits[0]!);
    await git(repo, 'tag', '-f', 'v9.0.0', commits[1]!);
    expect((await resolve(repo, ['v9.0.0'])).res['v9.0.0']).toEqual({ status: 'resolved', tag: 'v9.0.0', commit: commits[1] });
    // Packed into packed-refs, then moved and deleted while packed.
    await git(repo, 'pack-refs', '--all');
    expect(readdirSync(join(repo, '.git', 'refs', 'tags'))).toEqual([]);
    expect((await resolve(repo, ['v9.0.0'])).res['v9.0.0']).toEqual({ status: 'resolved', tag: 'v9.0.0', commit: commits[1] });
    expect((await resolve(repo, ['v9.0.0'])).hits).toBe(1);
    await git(repo, 'tag', '-f', 'v9.0.0', commits[2]!);
    expect((await resolve(repo, ['v9.0.0'])).res['v9.0.0']).toEqual({ status: 'resolved', tag: 'v9.0.0', commit: commits[2] });
    await git(repo, 'pack-refs', '--all');
    await git(repo, 'tag', '-d', 'v9.0.0');
    expect((await resolve(repo, ['v9.0.0'])).res['v9.0.0']).toEqual({ status: 'not-found', reason: 'Git tag v9.0.0 not found' });
    // Nested tag names live in subfolders of refs/tags.
    await git(repo, 'tag', 'release/v9.1.0', commits[0]!);
    expect((await resolve(repo, ['release/v9.1.0'])).res['release/v9.1.0']).toEqual({ status: 'resolved', tag: 'release/v9.1.0', commit: commits[0] });
    await git(repo, 'tag', '-f', 'release/v9.1.0', commits[2]!);
    expect((await resolve(repo, ['release/v9.1.0'])).res['release/v9.1.0']).toEqual({ status: 'resolved', tag: 'release/v9.1.0', commit: commits[2] });
  });

  it('a worktree (a .git file) and a bare clone resolve, and see a tag added in the main repository', async () => {
    tagCacheOptions.racyMs = -Infinity;
    const base = scratch('tag-wt');
    const wt = join(base, 'wt');
    const bare = join(base, 'bare.git');
    await git(repo, 'worktree', 'add', '-q', '--detach', wt);
    await git(base, 'clone', '-q', '--bare', repo, bare);
    expect(readFileSync(join(wt, '.git'), 'utf8')).toMatch(/^gitdir: /);
    for (const dir of [wt, bare]) {
      expect((await resolve(dir, ['v1.0.0'])).res['v1.0.0']).toEqual({ status: 'resolved', tag: 'v1.0.0', commit: commits[0] });
      expect((await resolve(dir, ['v1.0.0'])).hits).toBe(1);
    }
    await git(repo, 'tag', 'v7.0.0', commits[2]!);
    await git(bare, 'tag', 'v7.0.0', commits[1]!);
    expect((await resolve(wt, ['v7.0.0'])).res['v7.0.0']).toEqual({ status: 'resolved', tag: 'v7.0.0', commit: commits[2] });
    expect((await resolve(bare, ['v7.0.0'])).res['v7.0.0']).toEqual({ status: 'resolved', tag: 'v7.0.0', commit: commits[1] });
    await git(repo, 'worktree', 'remove', '--force', wt);
  });

  it('a folder that stops being a repository is reported at the next call', async () => {
    tagCacheOptions.racyMs = -Infinity;
    const base = scratch('tag-gone');
    const dir = join(base, 'r');
    await git(base, 'clone', '-q', repo, dir);
    expect((await resolve(dir, ['v1.0.0'])).res['v1.0.0']).toMatchObject({ status: 'resolved' });
    await execa('mv', [join(dir, '.git'), join(base, 'moved.git')]);
    expect((await resolve(dir, ['v1.0.0'])).res['v1.0.0']).toEqual({ status: 'unresolved', reason: `source repository ${dir} is not a git repository` });
  });
});
