// Observation: resolves requested versions (tags, `latest`) to commits with one git call, or none while the tags are unchanged.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';
import type { VersionResolution } from '../model/types.js';
import { latestTag } from '../shared/semver.js';
import { errorMessage } from '../shared/errors.js';

export function isRemoteRepo(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/]+@[^/]+:/.test(repo);
}

/** Tag name -> commit, from a local repository or a remote one (`git ls-remote`). */
export async function listTags(repo: string, root: string, timeoutMs = 15_000): Promise<Map<string, string>> {
  const tags = new Map<string, string>();
  if (isRemoteRepo(repo)) {
    const { stdout } = await execa('git', ['ls-remote', '--tags', '--', repo], { timeout: timeoutMs, env: { GIT_TERMINAL_PROMPT: '0' } });
    for (const line of stdout.split('\n')) {
      const m = /^([0-9a-f]{40,64})\trefs\/tags\/(.+?)(\^\{\})?$/.exec(line);
      if (!m) continue;
      // Peeled entries (^{}) name the commit of an annotated tag and win over the tag object.
      if (m[3] || !tags.has(m[2]!)) tags.set(m[2]!, m[1]!);
    }
    return tags;
  }
  const dir = isAbsolute(repo) ? repo : resolve(root, repo);
  if (!existsSync(dir)) throw new Error(`source repository ${repo} does not exist`);
  const takenAt = Date.now();
  const print = refsFingerprint(dir);
  const cached = tagCache.get(dir);
  if (print !== undefined && cached?.print === print.key && cached.trusted) {
    tagCacheStats.hits++;
    return new Map(cached.tags);
  }
  // Only the repository rooted exactly at `dir` (`dir/.git`, a folder or a gitfile, or `dir` itself
  // when bare): an explicit --git-dir never finds a parent repository that happens to contain it.
  const gitDir = existsSync(join(dir, '.git')) ? join(dir, '.git') : dir;
  tagCacheStats.listings++;
  const r = await execa('git', ['--git-dir', gitDir, 'for-each-ref', '--format=%(refname:strip=2)%09%(objectname)%09%(*objectname)', 'refs/tags'], { timeout: timeoutMs, reject: false });
  if (r.failed) {
    if (/not a git repository/.test(r.stderr)) throw new Error(`source repository ${repo} is not a git repository`);
    throw new Error(`git for-each-ref in source repository ${repo} failed: ${firstLine(String(r.stderr || r.message))}`);
  }
  for (const line of r.stdout.split('\n')) {
    const [name, object, peeled] = line.split('\t');
    if (name && object) tags.set(name, peeled || object);
  }
  if (print !== undefined) {
    tagCache.set(dir, { print: print.key, trusted: print.newestMs + tagCacheOptions.racyMs < takenAt, tags: new Map(tags) });
  }
  return tags;
}

/**
 * Tag listings of local repositories, by folder, kept while a fingerprint of where git keeps tags
 * is unchanged: which git dir it is (the inode of `.git` or of the bare folder, a gitfile's stat and
 * target, `commondir`), and the stat (inode, size, mtime, ctime in ns) of `config`, `packed-refs`,
 * `reftable/tables.list` and every folder and file under `refs/tags`. Git writes refs by renaming
 * a lock file into place, so a new, moved or deleted tag changes an inode or a timestamp there. A listing is trusted only when everything in
 * its fingerprint is older than `racyMs` at the time it was taken (timestamps are coarse, and an
 * inode can be reused: a tag moved twice within one tick could otherwise look unchanged), the way
 * git itself treats racily clean index entries.
 */
const tagCache = new Map<string, { print: string; trusted: boolean; tags: Map<string, string> }>();
export const tagCacheOptions = { racyMs: 3_000 };
export const tagCacheStats = { listings: 0, hits: 0 };

/** Forget every cached listing. */
export function clearTagCache(): void {
  tagCache.clear();
}

function refsFingerprint(dir: string): { key: string; newestMs: number } | undefined {
  const parts: string[] = [];
  let newestMs = 0;
  // `identity`: which file or folder only; a git dir's own times change with every index write.
  const add = (label: string, path: string, identity = false) => {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) {
      parts.push(`${label} -`);
      return undefined;
    }
    if (identity) {
      parts.push(`${label} ${st.dev}:${st.ino}:${st.mode}`);
      return st;
    }
    parts.push(`${label} ${st.dev}:${st.ino}:${st.mode}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`);
    newestMs = Math.max(newestMs, Number(st.mtimeMs), Number(st.ctimeMs));
    return st;
  };
  const walk = (path: string, label: string) => {
    const st = add(label, path);
    if (!st?.isDirectory()) return;
    for (const name of readdirSync(path).sort()) walk(join(path, name), `${label}/${name}`);
  };
  try {
    const dotGit = join(dir, '.git');
    const st = statSync(dotGit, { throwIfNoEntry: false });
    let gitDir = dir;
    if (st === undefined) add('bare', dir, true);
    else if (st.isDirectory()) {
      gitDir = dotGit;
      add('.git', dotGit, true);
    } else {
      add('gitfile', dotGit);
      const target = /^gitdir: *(.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
      if (target === undefined) return undefined;
      gitDir = resolve(dir, target);
      add('gitdir', gitDir, true);
    }
    let common = gitDir;
    if (add('commondir', join(gitDir, 'commondir'))) common = resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim());
    add('config', join(common, 'config'));
    add('packed-refs', join(common, 'packed-refs'));
    add('reftable', join(common, 'reftable', 'tables.list'));
    walk(join(common, 'refs', 'tags'), 'tags');
  } catch {
    // refs unreadable: no cache key, so tags are read again
    return undefined;
  }
  return { key: parts.join('\n'), newestMs };
}

/** Resolve each requested version (`latest`: the highest semver tag, pre-releases only when asked); an unreadable source makes every one `unresolved`. */
export async function resolveVersions(
  repo: string, root: string, versions: readonly string[], prereleases = false,
): Promise<Record<string, VersionResolution>> {
  const out: Record<string, VersionResolution> = {};
  const wanted = [...new Set(versions)].sort();
  let tags: Map<string, string>;
  try {
    tags = await listTags(repo, root);
  } catch (err) {
    const reason = firstLine(errorMessage(err));
    for (const v of wanted) out[v] = { status: 'unresolved', reason };
    return out;
  }
  for (const v of wanted) {
    const tag = v === 'latest' ? latestTag([...tags.keys()], prereleases) : v;
    const commit = tag === undefined ? undefined : tags.get(tag);
    if (tag !== undefined && commit !== undefined) out[v] = { status: 'resolved', tag, commit };
    else out[v] = { status: 'not-found', reason: v === 'latest' ? 'No semver git tag found for latest' : notFound(v, [...tags.keys()]) };
  }
  return out;
}

/** `Git tag 1.1.0 not found; did you mean v1.1.0?`: the closest tags, when some are close. */
export function notFound(version: string, tags: readonly string[]): string {
  const near = closestTags(version, tags);
  return `Git tag ${version} not found${near.length > 0 ? `; did you mean ${near.length === 1 ? near[0] : `one of ${near.join(', ')}`}?` : ''}`;
}

/**
 * Up to three tags close to `wanted`: those that are the same but for a leading `v` or letter case
 * when there are any, else those within an edit distance of 2 (a third of its length for longer
 * names, at most 3), nearest first; not one that differs only in digits (another version, not a typo).
 */
export function closestTags(wanted: string, tags: readonly string[]): string[] {
  const norm = (t: string) => t.toLowerCase().replace(/^v(?=\d)/, '');
  const limit = Math.min(3, Math.max(2, Math.floor(wanted.length / 3)));
  const near = tags
    .map((tag) => ({ tag, d: norm(tag) === norm(wanted) ? 0 : editDistance(tag.toLowerCase(), wanted.toLowerCase()) }))
    .filter((x) => x.tag !== wanted && x.d <= limit && (x.d === 0 || !otherNumber(x.tag, wanted)))
    .sort((a, b) => a.d - b.d || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  // `1.1.0` for `v1.1.0` is that tag, not also its neighbours `v1.0.0` and `v1.2.0`.
  const same = near.filter((x) => x.d === 0);
  return (same.length > 0 ? same : near).slice(0, 3).map((x) => x.tag);
}

/** Same length, and every character that differs is a digit in both: another version (v9.0.0 is no typo of v1.0.0). */
function otherNumber(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(/\d/.test(a[i]!) && /\d/.test(b[i]!))) return false;
  return true;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? text).trim();
}
