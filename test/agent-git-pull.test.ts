// pullDesired against real repositories: a bare remote, the host's clone holding desired/, and a second clone that pushes.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullDesired, pullWarning } from '../src/agent/git-pull.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

// git must not read the machine's or the user's config, nor find a repository above the temp folder.
const saved: Record<string, string | undefined> = {};
const testEnv: Record<string, string | undefined> = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CEILING_DIRECTORIES: realpathSync(tmpdir()),
  GIT_DIR: undefined,
  GIT_WORK_TREE: undefined,
  GIT_INDEX_FILE: undefined,
};
beforeAll(() => {
  for (const [k, v] of Object.entries(testEnv)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function identify(repo: string): void {
  git(repo, 'config', 'user.name', 'tend test');
  git(repo, 'config', 'user.email', 'tend-test@example.invalid');
}

/** Write (string) or delete (null) files relative to repo, then commit them all. */
function commit(repo: string, files: Record<string, string | null>, message: string): string {
  for (const [path, content] of Object.entries(files)) {
    const abs = join(repo, path);
    if (content === null) rmSync(abs);
    else {
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, content);
    }
  }
  git(repo, 'add', '--all');
  git(repo, 'commit', '--quiet', '-m', message);
  return git(repo, 'rev-parse', 'HEAD');
}

const spec = (name: string, version: string): string => `name: ${name}\nversion: ${version}\nruntime: tmux\nport: 8080\n`;

interface Fixture {
  remote: string;
  /** The host's clone: tend.yaml at its root, desired/ below. */
  host: string;
  desired: string;
  /** Another clone that pushes to the remote (a person or a pipeline). */
  pusher: string;
}

function fixture(): Fixture {
  const root = scratch('git-pull');
  const remote = join(root, 'remote.git');
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', remote);
  const pusher = join(root, 'pusher');
  git(root, '-c', 'init.defaultBranch=main', 'clone', '--quiet', remote, pusher);
  identify(pusher);
  commit(pusher, {
    'tend.yaml': 'apiVersion: tend/v1\napp: oubliette\n',
    'README.md': 'ops repo\n',
    'desired/web.yaml': spec('web', 'v1.0.0'),
    'desired/api.yaml': spec('api', 'v1.0.0'),
    'desired/old.yaml': spec('old', 'v0.9.0'),
  }, 'seed');
  git(pusher, 'push', '--quiet', '-u', 'origin', 'main');
  const host = join(root, 'host');
  git(root, 'clone', '--quiet', remote, host);
  identify(host);
  return { remote, host, desired: join(host, 'desired'), pusher };
}

const head = (repo: string): string => git(repo, 'rev-parse', 'HEAD');
const read = (path: string): string => readFileSync(path, 'utf8');

describe('pullDesired', () => {
  it('reports up-to-date when the remote has nothing new', async () => {
    const f = fixture();
    const r = await pullDesired(f.desired);
    expect(r).toMatchObject({ status: 'up-to-date', branch: 'main', upstream: 'origin/main', head: head(f.host) });
    expect(pullWarning(r)).toBeUndefined();
  });

  it('fast-forwards a pushed bump and lists the desired files added, modified and deleted', async () => {
    const f = fixture();
    const from = head(f.host);
    commit(f.pusher, { 'desired/web.yaml': spec('web', 'v1.1.0'), 'desired/db.yaml': spec('db', 'v2.0.0') }, 'bump web, add db');
    const to = commit(f.pusher, { 'desired/old.yaml': null, 'README.md': 'ops repo, edited\n' }, 'drop old');
    git(f.pusher, 'push', '--quiet');

    const r = await pullDesired(f.desired);
    expect(r.status).toBe('pulled');
    if (r.status !== 'pulled') return;
    expect(r).toMatchObject({ branch: 'main', upstream: 'origin/main', from, to, commits: 2, configChanged: false });
    expect([...r.changed].sort()).toEqual(['db.yaml', 'old.yaml', 'web.yaml'].map((n) => join(f.desired, n)));
    expect(pullWarning(r)).toBeUndefined();
    expect(r.message).toContain('3 desired files changed');
    expect(head(f.host)).toBe(to);
    expect(read(join(f.desired, 'web.yaml'))).toContain('v1.1.0');
    expect(read(join(f.desired, 'db.yaml'))).toContain('v2.0.0');
    expect(existsSync(join(f.desired, 'old.yaml'))).toBe(false);
    expect(read(join(f.host, 'README.md'))).toBe('ops repo, edited\n');
    // No merge commit: HEAD is exactly the pushed commit, and the next pull has nothing to do.
    expect(git(f.host, 'rev-list', '--count', '--merges', `${from}..HEAD`)).toBe('0');
    expect((await pullDesired(f.desired)).status).toBe('up-to-date');
  });

  it('says when tend.yaml at the root changed', async () => {
    const f = fixture();
    commit(f.pusher, { 'tend.yaml': 'apiVersion: tend/v1\napp: oubliette\nreleases:\n  keep: 3\n' }, 'keep 3 releases');
    git(f.pusher, 'push', '--quiet');
    const r = await pullDesired(f.desired);
    expect(r).toMatchObject({ status: 'pulled', changed: [], configChanged: true, commits: 1 });
  });

  it('leaves a diverged branch alone: local HEAD and files untouched', async () => {
    const f = fixture();
    const local = commit(f.host, { 'desired/api.yaml': spec('api', 'v1.0.1-hotfix') }, 'local hotfix');
    commit(f.pusher, { 'desired/web.yaml': spec('web', 'v1.1.0') }, 'bump web');
    commit(f.pusher, { 'desired/api.yaml': spec('api', 'v1.2.0') }, 'bump api');
    const remoteHead = head(f.pusher);
    git(f.pusher, 'push', '--quiet');

    const r = await pullDesired(f.desired);
    expect(r).toMatchObject({ status: 'diverged', branch: 'main', upstream: 'origin/main', ahead: 1, behind: 2, head: local, upstreamHead: remoteHead });
    expect(r.message).toBe('desired/ is on branch main, 1 commit ahead and 2 behind origin/main: diverged, not pulled (merge or rebase by hand)');
    expect(pullWarning(r)).toBe(r.message);
    expect(head(f.host)).toBe(local);
    expect(read(join(f.desired, 'web.yaml'))).toBe(spec('web', 'v1.0.0'));
    expect(read(join(f.desired, 'api.yaml'))).toBe(spec('api', 'v1.0.1-hotfix'));
    expect(git(f.host, 'status', '--porcelain')).toBe('');
  });

  it('reports local commits the remote lacks even with nothing to pull', async () => {
    const f = fixture();
    const local = commit(f.host, { 'desired/api.yaml': spec('api', 'v1.0.1-hotfix') }, 'local hotfix');
    const r = await pullDesired(f.desired);
    expect(r).toMatchObject({ status: 'diverged', ahead: 1, behind: 0, head: local });
    expect(r.message).toContain('1 commit ahead of origin/main');
    expect(head(f.host)).toBe(local);
  });

  it('does not pull over an uncommitted change to a file the incoming commit touches', async () => {
    const f = fixture();
    const before = head(f.host);
    writeFileSync(join(f.desired, 'web.yaml'), spec('web', 'v9-local-edit'));
    commit(f.pusher, { 'desired/web.yaml': spec('web', 'v1.1.0'), 'desired/db.yaml': spec('db', 'v2.0.0') }, 'bump web, add db');
    git(f.pusher, 'push', '--quiet');

    const r = await pullDesired(f.desired);
    expect(r).toMatchObject({ status: 'dirty', branch: 'main', upstream: 'origin/main', behind: 1, blocking: [join(f.desired, 'web.yaml')] });
    expect(r.message).toBe('desired/ is on branch main, 1 behind origin/main, but uncommitted local changes to desired/web.yaml '
      + 'would be overwritten: not pulled (commit or discard them)');
    expect(head(f.host)).toBe(before);
    expect(read(join(f.desired, 'web.yaml'))).toBe(spec('web', 'v9-local-edit'));
    expect(existsSync(join(f.desired, 'db.yaml'))).toBe(false);
    expect(git(f.host, 'stash', 'list')).toBe('');
  });

  it('does not pull over an untracked file where the incoming commit adds one', async () => {
    const f = fixture();
    const before = head(f.host);
    writeFileSync(join(f.desired, 'db.yaml'), spec('db', 'hand-made'));
    commit(f.pusher, { 'desired/db.yaml': spec('db', 'v2.0.0') }, 'add db');
    git(f.pusher, 'push', '--quiet');

    const r = await pullDesired(f.desired);
    expect(r).toMatchObject({ status: 'dirty', blocking: [join(f.desired, 'db.yaml')] });
    expect(head(f.host)).toBe(before);
    expect(read(join(f.desired, 'db.yaml'))).toBe(spec('db', 'hand-made'));
  });

  it('pulls past untracked files and uncommitted changes the incoming commit does not touch, keeping them', async () => {
    const f = fixture();
    writeFileSync(join(f.desired, 'scratch.yaml'), spec('scratch', 'v0'));
    writeFileSync(join(f.desired, 'api.yaml'), spec('api', 'v1.0.0-local'));
    const to = commit(f.pusher, { 'desired/web.yaml': spec('web', 'v1.1.0') }, 'bump web');
    git(f.pusher, 'push', '--quiet');

    const r = await pullDesired(f.desired);
    expect(r).toMatchObject({ status: 'pulled', to, changed: [join(f.desired, 'web.yaml')] });
    expect(head(f.host)).toBe(to);
    expect(read(join(f.desired, 'web.yaml'))).toBe(spec('web', 'v1.1.0'));
    expect(read(join(f.desired, 'scratch.yaml'))).toBe(spec('scratch', 'v0'));
    expect(read(join(f.desired, 'api.yaml'))).toBe(spec('api', 'v1.0.0-local'));
  });

  it('reports no-upstream for a repository without a remote, and for a branch without an upstream', async () => {
    const plain = join(scratch('git-pull-noremote'), 'ops');
    mkdirSync(plain);
    git(plain, 'init', '--quiet', '--initial-branch=main');
    identify(plain);
    commit(plain, { 'tend.yaml': 'apiVersion: tend/v1\napp: x\n', 'desired/web.yaml': spec('web', 'v1') }, 'seed');
    const r = await pullDesired(join(plain, 'desired'));
    expect(r).toMatchObject({ status: 'no-upstream', branch: 'main', reason: 'no-remote' });
    expect(pullWarning(r)).toContain('no remote');

    const f = fixture();
    git(f.host, 'switch', '--quiet', '-c', 'local-only');
    const r2 = await pullDesired(f.desired);
    expect(r2).toMatchObject({ status: 'no-upstream', branch: 'local-only', reason: 'no-upstream' });
    expect(r2.message).toContain('has no upstream');
  });

  it('reports not-a-repo for a plain folder and a missing one', async () => {
    const plain = join(scratch('git-pull-plain'), 'desired');
    mkdirSync(plain);
    writeFileSync(join(plain, 'web.yaml'), spec('web', 'v1'));
    const r = await pullDesired(plain);
    expect(r.status).toBe('not-a-repo');
    expect(pullWarning(r)).toContain('is not in a git work tree');
    expect((await pullDesired(join(plain, 'missing'))).status).toBe('not-a-repo');
  });

  it('leaves a detached HEAD alone', async () => {
    const f = fixture();
    git(f.host, 'switch', '--quiet', '--detach');
    const before = head(f.host);
    commit(f.pusher, { 'desired/web.yaml': spec('web', 'v1.1.0') }, 'bump web');
    git(f.pusher, 'push', '--quiet');
    const r = await pullDesired(f.desired);
    expect(r).toMatchObject({ status: 'detached', head: before });
    expect(r.message).toContain('detached HEAD');
    expect(head(f.host)).toBe(before);
    expect(read(join(f.desired, 'web.yaml'))).toBe(spec('web', 'v1.0.0'));
  });

  it('reports a failed fetch as an error and changes nothing', async () => {
    const f = fixture();
    const before = head(f.host);
    git(f.host, 'remote', 'set-url', 'origin', join(f.remote, '..', 'gone.git'));
    const r = await pullDesired(f.desired);
    expect(r).toMatchObject({ status: 'error', step: 'fetch' });
    expect(r.message).toMatch(/^desired\/: git fetch failed: /);
    expect(head(f.host)).toBe(before);
  });

  it('rejects with the abort reason when the signal is already aborted, touching nothing', async () => {
    const f = fixture();
    const before = head(f.host);
    commit(f.pusher, { 'desired/web.yaml': spec('web', 'v1.1.0') }, 'bump web');
    git(f.pusher, 'push', '--quiet');
    const ac = new AbortController();
    ac.abort(new Error('agent stopping'));
    await expect(pullDesired(f.desired, { signal: ac.signal })).rejects.toThrow('agent stopping');
    expect(head(f.host)).toBe(before);
    expect(git(f.host, 'rev-parse', 'origin/main')).toBe(before);
  });
});
