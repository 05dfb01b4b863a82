// The source to build from: the local repository, or a mirror of a remote one; a temporary clone at one commit.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';
import { isRemoteRepo } from './tags.js';
import { acquireLock } from '../fs/lock.js';

/** The mirror of a remote `source.repo`, kept under releases/. */
export const MIRROR_DIR = '.source.git';
const GIT_TIMEOUT_MS = 10 * 60_000;

/** Variables that would point git (and the build) at another repository, such as the operator's. */
const GIT_LOCATION_VARS = [
  'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_PREFIX', 'GIT_QUARANTINE_PATH',
];

/** This process's environment without git location variables (a tend started from a git hook has them). */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !GIT_LOCATION_VARS.includes(k)) out[k] = v;
  return { ...out, GIT_TERMINAL_PROMPT: '0', ...extra };
}

async function git(args: string[], signal?: AbortSignal): Promise<void> {
  await execa('git', args, { env: cleanEnv(), extendEnv: false, stdin: 'ignore', timeout: GIT_TIMEOUT_MS, cancelSignal: signal });
}

async function hasCommit(repo: string, commit: string): Promise<boolean> {
  const r = await execa('git', ['-C', repo, 'cat-file', '-e', `${commit}^{commit}`], { env: cleanEnv(), extendEnv: false, reject: false });
  return r.exitCode === 0;
}

/** Brings `releases/.source.git` up to date with a remote repository (one process at a time). */
async function mirror(url: string, releasesDir: string, commit: string, signal?: AbortSignal): Promise<string> {
  const dir = join(releasesDir, MIRROR_DIR);
  const { lock } = await acquireLock(join(releasesDir, '.source.lock'), { purpose: 'update the source mirror', timeoutMs: GIT_TIMEOUT_MS, signal });
  try {
    if (existsSync(join(dir, 'HEAD'))) {
      if (await hasCommit(dir, commit)) return dir;
      await git(['-C', dir, 'remote', 'set-url', 'origin', url], signal);
      await git(['-C', dir, 'fetch', '--prune', '--quiet', 'origin'], signal);
      return dir;
    }
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    try {
      await git(['clone', '--mirror', '--quiet', '--', url, tmp], signal);
      renameSync(tmp, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return dir;
  } finally {
    lock.release();
  }
}

/** Where to clone from: the local repository (resolved against the root), or the updated mirror of a URL. */
export async function sourceForClone(repo: string, root: string, releasesDir: string, commit: string, signal?: AbortSignal): Promise<string> {
  if (isRemoteRepo(repo)) return mirror(repo, releasesDir, commit, signal);
  const dir = isAbsolute(repo) ? repo : resolve(root, repo);
  if (!existsSync(dir)) throw new Error(`source repository ${repo} does not exist`);
  return dir;
}

/**
 * A throwaway clone of `source` checked out at `commit`. `--shared` borrows the source's objects
 * read-only (nothing is written into the source's .git, unlike a worktree).
 */
export async function cloneAt(source: string, commit: string, dest: string, signal?: AbortSignal): Promise<void> {
  await git(['clone', '--shared', '--no-checkout', '--quiet', '--', source, dest], signal);
  await git(['-C', dest, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit], signal);
}
