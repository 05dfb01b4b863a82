// Observation against real git repositories and real instance folders (no mocks).
import { mkdirSync, writeFileSync, cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveVersions } from '../src/release/tags.js';
import { readInstanceState } from '../src/observe/instances.js';
import { parseEnvFile } from '../src/shared/env-parse.js';
import { readBuiltReleases } from '../src/observe/releases.js';
import { latestTag } from '../src/shared/semver.js';
import { buildOnce, REPO, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

const git = (cwd: string, ...args: string[]) =>
  execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false', ...args], { cwd });

let repo: string;
const commits: Record<string, string> = {};

beforeAll(async () => {
  repo = scratch('repo');
  await git(repo, 'init', '-q', '-b', 'main');
  for (const tag of ['v1.0.0', 'v1.2.0', 'v1.10.0', 'v2.0.0-rc.1']) {
    writeFileSync(join(repo, 'VERSION'), tag);
    await git(repo, 'add', 'VERSION');
    await git(repo, 'commit', '-q', '-m', tag);
    commits[tag] = (await git(repo, 'rev-parse', 'HEAD')).stdout.trim();
    // v1.2.0 is an annotated tag: it must resolve to its commit, not the tag object.
    if (tag === 'v1.2.0') await git(repo, 'tag', '-a', tag, '-m', `release ${tag}`);
    else await git(repo, 'tag', tag);
  }
  await buildOnce();
}, 120_000);

describe('tag resolution (observation)', () => {
  it('resolves tags, annotated tags and latest (highest semver, no pre-release), and reports missing tags', async () => {
    const res = await resolveVersions(repo, '/', ['latest', 'v1.2.0', 'v1.0.0', 'v9.9.9']);
    expect(res).toEqual({
      latest: { status: 'resolved', tag: 'v1.10.0', commit: commits['v1.10.0'] },
      'v1.0.0': { status: 'resolved', tag: 'v1.0.0', commit: commits['v1.0.0'] },
      'v1.2.0': { status: 'resolved', tag: 'v1.2.0', commit: commits['v1.2.0'] },
      'v9.9.9': { status: 'not-found', reason: 'Git tag v9.9.9 not found' },
    });
  });

  it('latest takes pre-release tags only when asked (source.prereleases)', async () => {
    const res = await resolveVersions(repo, '/', ['latest'], true);
    expect(res.latest).toEqual({ status: 'resolved', tag: 'v2.0.0-rc.1', commit: commits['v2.0.0-rc.1'] });
  });

  it('a folder inside another repository is not taken for a repository', async () => {
    const inner = join(repo, 'sub');
    mkdirSync(inner);
    const res = await resolveVersions('sub', repo, ['v1.0.0']);
    expect(res['v1.0.0']).toEqual({ status: 'unresolved', reason: 'source repository sub is not a git repository' });
  });

  it('a missing source makes every version unresolved', async () => {
    const res = await resolveVersions('./nope', scratch('empty'), ['latest']);
    expect(res.latest).toEqual({ status: 'unresolved', reason: 'source repository ./nope does not exist' });
  });

  it('latestTag orders by semver, not text', () => {
    expect(latestTag(['v1.9.0', 'v1.10.0', 'v1.2.3', 'junk'])).toBe('v1.10.0');
    expect(latestTag(['v2.0.0-rc.1', 'v1.0.0'])).toBe('v1.0.0');
    expect(latestTag(['v2.0.0-rc.1', 'v2.0.0-rc.2', 'v1.0.0'], true)).toBe('v2.0.0-rc.2');
    expect(latestTag(['v2.0.0-rc.1', 'v2.0.0'], true)).toBe('v2.0.0');
    expect(latestTag(['main', 'feature'])).toBeUndefined();
  });

  it('dry-run against a real source repository shows build with the commit, then reuse once built', async () => {
    const root = scratch('root');
    cpSync(join(REPO, 'examples'), root, { recursive: true });
    const config = readFileSync(join(root, 'tend.yaml'), 'utf8').replace('repo: ./app', `repo: ${repo}`);
    writeFileSync(join(root, 'tend.yaml'), config);
    writeFileSync(join(root, 'desired', 'web.yaml'), 'version: v1.2.0\nport: 8081\n');
    writeFileSync(join(root, 'desired', 'worker.yaml'), 'version: v9.9.9\nruntime: tmux\nport: 8083\n');
    const snapshot = join(REPO, 'examples/empty-host.json');
    const first = await tend(['reconcile', '--dry-run', '-C', root, '--observed', snapshot]);
    expect(first.stdout).toContain(`release: build v1.2.0 (commit ${commits['v1.2.0']!.slice(0, 7)}, cache miss)`);
    expect(first.stdout).toContain(`release: build v1.10.0 (commit ${commits['v1.10.0']!.slice(0, 7)}, cache miss)`);
    expect(first.stdout).toContain('desired/worker.yaml:1:10: error: Git tag v9.9.9 not found');
    expect(first.code).toBe(1);

    mkdirSync(join(root, 'releases', 'v1.2.0'), { recursive: true });
    const manifest = { version: 'v1.2.0', commit: commits['v1.2.0'], builtAt: '2026-01-01T00:00:00Z', artifacts: [] };
    writeFileSync(join(root, 'releases', 'v1.2.0', 'manifest.json'), JSON.stringify(manifest));
    const second = await tend(['reconcile', '--dry-run', '-C', root, '--observed', snapshot]);
    expect(second.stdout).toContain('release: reuse v1.2.0');

    manifest.commit = commits['v1.0.0']!;
    writeFileSync(join(root, 'releases', 'v1.2.0', 'manifest.json'), JSON.stringify(manifest));
    const moved = await tend(['reconcile', '--dry-run', '-C', root, '--observed', snapshot]);
    expect(moved.stdout).toContain('rebuild: tag moved');
  });
});

describe('instance state (observation)', () => {
  it('reads .env names and a digest, never the values', () => {
    const root = scratch('inst');
    const dir = join(root, 'instances', 'web');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '.env'), '# secrets\nFACTORY_API_KEY="s3cr3t-value"\nexport OTHER=plain\n', { mode: 0o600 });
    const a = readInstanceState(root, join(root, 'instances'), 'web');
    expect(a.env.keys).toEqual(['FACTORY_API_KEY', 'OTHER']);
    expect(a.env.file).toBe('instances/web/.env');
    expect(JSON.stringify(a)).not.toContain('s3cr3t-value');
    writeFileSync(join(dir, '.env'), 'FACTORY_API_KEY="another"\nexport OTHER=plain\n');
    const b = readInstanceState(root, join(root, 'instances'), 'web');
    expect(b.env.digest).not.toBe(a.env.digest);
  });

  it('reads history (skipping a torn last line), status and restart requests', () => {
    const root = scratch('inst');
    const dir = join(root, 'instances', 'api');
    mkdirSync(dir, { recursive: true });
    const entry = { version: 'v1.0.0', updatedAt: '2026-01-01T00:00:00Z', updatedBy: 'ci', reason: 'create', outcome: 'healthy' };
    writeFileSync(join(dir, '.version-history'), `${JSON.stringify(entry)}\n{"version":"v1.1`);
    writeFileSync(join(dir, 'status.json'), JSON.stringify({ phase: 'RolledBack', held: { version: 'v1.1.0', specHash: 'x', at: '2026-01-02T00:00:00Z', reason: 'Health check timeout' } }));
    writeFileSync(join(dir, 'requests.json'), JSON.stringify({ restartRequestedAt: '2026-01-03T00:00:00Z' }));
    const s = readInstanceState(root, join(root, 'instances'), 'api');
    expect(s.history).toEqual([entry]);
    expect(s.phase).toBe('RolledBack');
    expect(s.held?.reason).toBe('Health check timeout');
    expect(s.restartRequestedAt).toBe('2026-01-03T00:00:00Z');
  });

  it('parses quoted .env values', () => {
    expect([...parseEnvFile('A="x y"\nB=\'z\'\n# c\nbad line\nC=1=2\n')]).toEqual([['A', 'x y'], ['B', 'z'], ['C', '1=2']]);
  });

  it('marks a release without a complete manifest invalid', () => {
    const dir = scratch('rel');
    mkdirSync(join(dir, 'v1.0.0'));
    mkdirSync(join(dir, 'v1.1.0'));
    writeFileSync(join(dir, 'v1.1.0', 'manifest.json'), JSON.stringify({ version: 'v1.1.0', commit: 'abc' }));
    expect(readBuiltReleases(dir)).toEqual({
      'v1.0.0': { version: 'v1.0.0', commit: '', valid: false, problem: 'manifest.json is missing' },
      'v1.1.0': { version: 'v1.1.0', commit: 'abc', valid: false, problem: 'manifest.json lacks builtAt, artifacts' },
    });
  });
});
