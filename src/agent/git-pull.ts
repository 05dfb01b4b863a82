// GitOps pull for the agent: fetch the branch that holds desired/ and fast-forward it; anything else is reported, never fixed.
import { stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { simpleGit, type SimpleGit, type SimpleGitOptions } from 'simple-git';
import { errorMessage } from '../shared/errors.js';

/**
 * What one pull did. `message` is for people in every case (the agent logs it; `pullWarning`
 * picks the ones to show as warnings). Paths in `changed` and `blocking` are absolute; commit ids are full.
 */
export type PullResult =
  /** desired/ is not inside a git work tree (or does not exist). */
  | { status: 'not-a-repo'; message: string }
  /** HEAD is not on a branch: nothing to fast-forward. Left alone. */
  | { status: 'detached'; head: string; message: string }
  /** The branch has no upstream, the repository no remote, or the upstream branch is gone. */
  | { status: 'no-upstream'; branch: string; reason: 'no-remote' | 'no-upstream' | 'upstream-missing'; message: string }
  | { status: 'up-to-date'; branch: string; upstream: string; head: string; message: string }
  /**
   * Fast-forwarded `from` → `to`. `changed`: files under desired/ added, modified or deleted by it
   * (a rename is a delete and an add); `configChanged`: the deployment's tend.yaml changed.
   */
  | {
      status: 'pulled'; branch: string; upstream: string; from: string; to: string; commits: number;
      changed: string[]; configChanged: boolean; message: string;
    }
  /** The branch has commits its upstream lacks (`ahead` > 0, whether or not `behind` is). Left alone. */
  | { status: 'diverged'; branch: string; upstream: string; ahead: number; behind: number; head: string; upstreamHead: string; message: string }
  /**
   * The fast-forward would touch files with uncommitted changes (`blocking`): tracked files changed in the
   * index or work tree, or untracked/ignored files where the incoming commits put a file. Left alone.
   */
  | { status: 'dirty'; branch: string; upstream: string; behind: number; blocking: string[]; message: string }
  /** A git command failed (fetch: network, auth, a lock; or the fast-forward itself). Left alone. */
  | { status: 'error'; step: 'inspect' | 'fetch' | 'fast-forward'; message: string };

export type PullStatus = PullResult['status'];

export interface PullOptions {
  /** Aborts fetch and inspection; the promise then rejects with `signal.reason`. A fast-forward under way is finished, not cut. */
  signal?: AbortSignal;
  /** The deployment's tend.yaml whose change `configChanged` reports (default: tend.yaml next to desired/). */
  configFile?: string;
  /** A fetch or inspection silent for this long is killed and reported as `error` (default 120 000 ms); the fast-forward has no limit. */
  timeoutMs?: number;
}

/** The message of a result the agent should show as a warning, or undefined when the pull is fine. */
export function pullWarning(result: PullResult): string | undefined {
  return result.status === 'up-to-date' || result.status === 'pulled' ? undefined : result.message;
}

// Variables that would point git at another repository than the one holding desired/.
const LOCATION_VARS = [
  'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_PREFIX',
];

// The environment is the operator's own (e.g. GIT_SSH_COMMAND for a deploy key), not untrusted input:
// let simple-git pass the variables it would otherwise refuse. The argv below is fixed by this module.
const TRUSTED_ENV: SimpleGitOptions['unsafe'] = {
  allowUnsafeEditor: true, allowUnsafeAskPass: true, allowUnsafeConfigPaths: true, allowUnsafeConfigEnvCount: true,
  allowUnsafePager: true, allowUnsafeGitProxy: true, allowUnsafeSshCommand: true, allowUnsafeTemplateDir: true,
  allowUnsafeDiffExternal: true, allowUnsafeCredentialHelper: true,
};

function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !LOCATION_VARS.includes(k)) env[k] = v;
  // Never wait for a password on a terminal; don't take optional index locks people's git may want.
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_OPTIONAL_LOCKS = '0';
  return env;
}

function gitIn(dir: string, timeoutMs?: number, signal?: AbortSignal): SimpleGit {
  return simpleGit({
    baseDir: dir,
    abort: signal,
    timeout: timeoutMs === undefined ? undefined : { block: timeoutMs },
    unsafe: TRUSTED_ENV,
    // merge.autoStash would stash local changes around the merge: never.
    config: ['merge.autoStash=false', 'core.quotePath=false'],
  }).env(gitEnv());
}

const firstLine = (e: unknown): string =>
  errorMessage(e).split('\n').map((l) => l.trim()).find((l) => l !== '') ?? 'unknown error';
const short = (sha: string): string => sha.slice(0, 7);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const nul = (out: string): string[] => out.split('\0').filter((p) => p !== '');
/** Two repo paths collide when equal or one is a folder holding the other (a trailing '/' marks a folder). */
const collide = (a: string, b: string): boolean => {
  const x = a.replace(/\/$/, '');
  const y = b.replace(/\/$/, '');
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
};

/** Fetch the upstream of the branch holding `dir` (the desired/ folder) and fast-forward to it when that is all it takes. */
export async function pullDesired(dir: string, opts: PullOptions = {}): Promise<PullResult> {
  const { signal } = opts;
  const abs = resolve(dir);
  const label = `${basename(abs)}/`;
  const configFile = resolve(opts.configFile ?? join(dirname(abs), 'tend.yaml'));
  const timeoutMs = opts.timeoutMs ?? 120_000;
  signal?.throwIfAborted();

  const isDir = await stat(abs).then((s) => s.isDirectory(), () => false);
  if (!isDir) return { status: 'not-a-repo', message: `${label} (${abs}) is not a folder: nothing to pull` };
  const git = gitIn(abs, timeoutMs, signal);
  let step: 'inspect' | 'fetch' | 'fast-forward' = 'inspect';
  try {
    try {
      if ((await git.raw(['rev-parse', '--is-inside-work-tree'])).trim() !== 'true') throw new Error('not a git repository');
    } catch (e) {
      if (signal?.aborted || !/not a git repository/i.test(firstLine(e))) throw e;
      return { status: 'not-a-repo', message: `${label} (${abs}) is not in a git work tree: nothing to pull` };
    }
    // Repo-relative path of dir ('' at the top, else ending in '/'), so files map back under dir as given.
    const prefix = (await git.raw(['rev-parse', '--show-prefix'])).trim();
    const branch = (await git.raw(['symbolic-ref', '--quiet', '--short', 'HEAD'])).trim();
    const head = (await git.raw(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).trim();
    if (branch === '') {
      return { status: 'detached', head, message: `${label} is on a detached HEAD at ${short(head)}: not pulled (check out a branch)` };
    }
    if (head === '') {
      return { status: 'error', step, message: `${label} is on branch ${branch}, which has no commits yet: not pulled` };
    }
    const remotes = (await git.raw(['remote'])).trim();
    const [upstreamRef = '', upstream = '', remote = ''] = (await git.raw([
      'for-each-ref', '--format=%(upstream)%00%(upstream:short)%00%(upstream:remotename)', `refs/heads/${branch}`,
    ])).trim().split('\0');
    if (upstreamRef === '') {
      return remotes === ''
        ? { status: 'no-upstream', branch, reason: 'no-remote', message: `${label} is in a git repository with no remote (branch ${branch}): nothing to pull` }
        : {
            status: 'no-upstream', branch, reason: 'no-upstream',
            message: `${label} is on branch ${branch}, which has no upstream: not pulled (set one with git branch --set-upstream-to)`,
          };
    }

    step = 'fetch';
    if (remote !== '' && remote !== '.') await git.raw(['fetch', '--quiet', '--no-recurse-submodules', remote]);
    step = 'inspect';
    const to = (await git.raw(['rev-parse', '--verify', '--quiet', `${upstreamRef}^{commit}`])).trim();
    if (to === '') {
      return {
        status: 'no-upstream', branch, reason: 'upstream-missing',
        message: `${label} is on branch ${branch}, whose upstream ${upstream} does not exist (deleted on the remote?): not pulled`,
      };
    }
    const [ahead = 0, behind = 0] = (await git.raw(['rev-list', '--left-right', '--count', `${head}...${to}`]))
      .trim().split(/\s+/).map(Number);
    if (ahead > 0) {
      const where = behind > 0
        ? `${plural(ahead, 'commit')} ahead and ${behind} behind ${upstream}: diverged, not pulled (merge or rebase by hand)`
        : `${plural(ahead, 'commit')} ahead of ${upstream} (local commits not on the remote): not pulled (push or drop them by hand)`;
      return { status: 'diverged', branch, upstream, ahead, behind, head, upstreamHead: to, message: `${label} is on branch ${branch}, ${where}` };
    }
    if (behind === 0) {
      return { status: 'up-to-date', branch, upstream, head, message: `${label} is up to date with ${upstream} at ${short(head)}` };
    }

    // Every path the fast-forward writes, against every local change it could overwrite.
    const incoming = nul(await git.raw(['diff', '--name-only', '--no-renames', '-z', head, to]));
    const changes = nul(await git.raw([
      'status', '--porcelain=v1', '-z', '--no-renames', '--untracked-files=normal', '--ignored',
    ])).map((entry) => entry.slice(3));
    const blockingRel = [...new Set(changes.filter((l) => incoming.some((p) => collide(l, p))))].sort();
    if (blockingRel.length > 0) {
      const shown = blockingRel.slice(0, 3).join(', ') + (blockingRel.length > 3 ? ` and ${blockingRel.length - 3} more` : '');
      return {
        status: 'dirty', branch, upstream, behind, blocking: blockingRel.map((p) => fromRepo(abs, prefix, p)),
        message: `${label} is on branch ${branch}, ${behind} behind ${upstream}, but uncommitted local changes to ${shown} `
          + 'would be overwritten: not pulled (commit or discard them)',
      };
    }

    // Past this point the work tree changes: finish it rather than cut git off half-way.
    signal?.throwIfAborted();
    step = 'fast-forward';
    const local = gitIn(abs);
    await local.raw(['merge', '--ff-only', '--quiet', to]);
    const now = (await local.raw(['rev-parse', 'HEAD'])).trim();
    if (now !== to) return { status: 'error', step, message: `${label}: fast-forward to ${short(to)} left HEAD at ${short(now)}` };

    const changed = incoming.filter((p) => p.startsWith(prefix)).map((p) => fromRepo(abs, prefix, p));
    const configRel = toRepo(abs, prefix, configFile);
    const configChanged = configRel !== undefined && incoming.includes(configRel);
    return {
      status: 'pulled', branch, upstream, from: head, to, commits: behind, changed, configChanged,
      message: `${label} fast-forwarded ${branch} ${short(head)}..${short(to)} from ${upstream} (${plural(behind, 'commit')}): `
        + `${plural(changed.length, 'desired file')} changed${configChanged ? ', tend.yaml changed' : ''}`,
    };
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    const what = step === 'fetch' ? 'git fetch failed' : step === 'fast-forward' ? 'git merge --ff-only failed' : 'git failed';
    return { status: 'error', step, message: `${label}: ${what}: ${firstLine(e)}` };
  }
}

/** A repo-relative path (from `git diff`, always '/') as an absolute path under dir as the caller named it. */
function fromRepo(dir: string, prefix: string, repoPath: string): string {
  const rel = repoPath.startsWith(prefix) ? repoPath.slice(prefix.length) : relative(prefix, repoPath);
  return join(dir, ...rel.split('/'));
}

/** An absolute path as a repo-relative path, or undefined when it lies outside the repository. */
function toRepo(dir: string, prefix: string, file: string): string | undefined {
  const parts = [...prefix.split('/').filter((p) => p !== ''), ...relative(dir, file).split(sep)];
  const out: string[] = [];
  for (const p of parts) {
    if (p === '..') {
      if (out.pop() === undefined) return undefined;
    } else if (p !== '.' && p !== '') out.push(p);
  }
  return out.join('/');
}
