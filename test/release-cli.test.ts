// `tend releases`, `tend releases build` and `tend prune-releases` as real processes on real repositories.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, tend } from './helpers/cli.js';
import { hashTree, makeApp } from './helpers/release-app.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

beforeAll(async () => {
  await buildOnce();
}, 120_000);

function writeTendYaml(root: string, repo: string): void {
  writeFileSync(join(root, 'tend.yaml'), `apiVersion: tend/v1\napp: demo\nsource:\n  repo: ${repo}\n  artifacts: [bin/app]\n  buildTimeout: 1m\n`);
  mkdirSync(join(root, 'desired'), { recursive: true });
}

describe('tend releases build', () => {
  it('builds a tag, then reuses it; a missing tag is an error in the old words', async () => {
    const app = await makeApp(scratch('cli-build'));
    writeTendYaml(app.root, app.repo);
    writeFileSync(join(app.root, 'desired', 'web.yaml'), 'version: v1.0.0\nruntime: tmux\nport: 8001\n');
    const first = await tend(['releases', 'build', 'latest', '-C', app.root]);
    expect(first.stdout).toMatch(new RegExp(`^build v1\\.1\\.0 \\(commit ${app.commits['v1.1.0']!.slice(0, 7)}, cache miss\\)\\nbuilt v1\\.1\\.0 in \\d+\\.\\ds: .*v1\\.1\\.0 \\(1 artifact\\)\\n$`));
    expect(first.code).toBe(0);
    const again = await tend(['releases', 'build', 'v1.1.0', '-C', app.root]);
    expect(again).toMatchObject({ code: 0, stdout: 'reuse v1.1.0\n' });
    const missing = await tend(['releases', 'build', 'v9.9.9', '-C', app.root]);
    expect(missing).toMatchObject({ code: 1, stderr: 'error: Git tag v9.9.9 not found\n' });

    const list = await tend(['releases', '--json', '-C', app.root]);
    expect(JSON.parse(list.stdout)).toEqual({
      formatVersion: 1,
      releases: [{ version: 'v1.1.0', commit: app.commits['v1.1.0'], builtAt: expect.any(String), size: expect.any(Number), valid: true, inUse: [] }],
    });
  });

  it('a failed build exits 1 with the exit code, the last 40 lines of its log and where the whole log is, and leaves no release', async () => {
    const app = await makeApp(scratch('cli-fail'));
    writeTendYaml(app.root, app.repo);
    writeFileSync(join(app.control, 'mode'), 'fail');
    const before = hashTree(app.repo);
    const r = await tend(['releases', 'build', 'v1.0.0', '-C', app.root]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`build v1.0.0 (commit ${app.commits['v1.0.0']!.slice(0, 7)}, cache miss)\n`);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe('error: build of v1.0.0 failed: build failed with exit code 3');
    expect(lines[1]).toBe('last 40 lines of build.log:');
    expect(lines.slice(2, 42)).toEqual([...Array.from({ length: 39 }, (_, i) => `  build line ${62 + i}`), '  error: compile failed']);
    expect(lines[42]).toBe(`the whole build log: ${join(app.root, 'releases', '.build-v1.0.0.log')}`);
    expect(readdirSync(join(app.root, 'releases'))).toEqual(['.build-v1.0.0.log']);
    expect(hashTree(app.repo)).toBe(before);
  });
});

describe('tend releases and tend prune-releases', () => {
  /** v1.2.1..v1.2.6 built by hand (valid manifests without artifacts); the source is not reachable. */
  function rootWithSixReleases(): string {
    const root = scratch('prune');
    writeTendYaml(root, './no-such-repo');
    for (const [i, v] of ['v1.2.1', 'v1.2.2', 'v1.2.3', 'v1.2.4', 'v1.2.5', 'v1.2.6'].entries()) {
      mkdirSync(join(root, 'releases', v), { recursive: true });
      const manifest = { version: v, commit: `${i}`.repeat(40), builtAt: `2026-01-0${i + 1}T00:00:00.000Z`, artifacts: [] };
      writeFileSync(join(root, 'releases', v, 'manifest.json'), JSON.stringify(manifest));
    }
    return root;
  }

  it('v1.2.1..v1.2.6 with v1.2.5 and v1.2.6 in use and --keep 3 delete v1.2.1..v1.2.3', async () => {
    const root = rootWithSixReleases();
    writeFileSync(join(root, 'desired', 'web.yaml'), 'version: v1.2.6\nruntime: tmux\nport: 8001\n');
    mkdirSync(join(root, 'instances', 'api'), { recursive: true });
    writeFileSync(join(root, 'instances', 'api', 'status.json'), JSON.stringify({ phase: 'Ready', applied: { version: 'v1.2.5' } }));

    const list = await tend(['releases', '-C', root]);
    expect(list.stdout.split('\n').slice(0, 3)).toEqual([
      'VERSION  COMMIT   BUILT                     SIZE   IN USE BY',
      'v1.2.6   5555555  2026-01-06T00:00:00.000Z  124 B  web (wants)',
      'v1.2.5   4444444  2026-01-05T00:00:00.000Z  124 B  api (applied)',
    ]);

    const dry = await tend(['prune-releases', '--keep', '3', '--dry-run', '-C', root]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe([
      '  keep   v1.2.6 (newest 3; in use by web (wants))',
      '  keep   v1.2.5 (newest 3; in use by api (applied))',
      '  keep   v1.2.4 (newest 3)',
      '- delete v1.2.3',
      '- delete v1.2.2',
      '- delete v1.2.1',
      'Prune: 3 to delete, 3 to keep (the 3 newest and every release in use)',
      'dry run: nothing deleted',
      '',
    ].join('\n'));
    expect(readdirSync(join(root, 'releases'))).toHaveLength(6);

    const refused = await tend(['prune-releases', '--keep', '3', '-C', root], { stdin: 'ignore' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: refusing to delete 3 releases without --yes: stdin is not a terminal');
    expect(readdirSync(join(root, 'releases'))).toHaveLength(6);

    const done = await tend(['prune-releases', '--keep', '3', '--yes', '-C', root]);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('deleted v1.2.1\ndeleted v1.2.2\ndeleted v1.2.3\n');
    expect(readdirSync(join(root, 'releases')).sort()).toEqual(['v1.2.4', 'v1.2.5', 'v1.2.6']);
  });

  it('a release in use (here: the rollback target in .version-history) survives --keep 1; keep defaults to releases.keep', async () => {
    const root = rootWithSixReleases();
    writeFileSync(join(root, 'tend.yaml'), `${'apiVersion: tend/v1\napp: demo\nsource:\n  repo: ./no-such-repo\n'}releases:\n  keep: 4\n`);
    mkdirSync(join(root, 'instances', 'web'), { recursive: true });
    const entry = (version: string, outcome: string) => JSON.stringify({ version, updatedAt: '2026-01-01T00:00:00Z', updatedBy: 'ci', reason: 'update', outcome });
    writeFileSync(join(root, 'instances', 'web', '.version-history'), `${entry('v1.2.2', 'healthy')}\n${entry('v1.2.3', 'failed')}\n`);
    const byDefault = await tend(['prune-releases', '--dry-run', '-C', root]);
    expect(byDefault.stdout).toContain('Prune: 1 to delete, 5 to keep (the 4 newest and every release in use)');
    const r = await tend(['prune-releases', '--keep', '1', '--yes', '-C', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  keep   v1.2.2 (in use by web (rollback))');
    expect(readdirSync(join(root, 'releases')).sort()).toEqual(['v1.2.2', 'v1.2.6']);
    const bad = await tend(['prune-releases', '--keep', 'three', '-C', root]);
    expect(bad).toMatchObject({ code: 1, stderr: 'error: --keep must be a whole number >= 0, not three\n' });
    expect(existsSync(join(root, 'releases', '.lock-v1.2.1'))).toBe(false);
  });
});
