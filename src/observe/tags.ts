// Observation: resolves requested versions (tags, `latest`) to commits with one git call.
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { execa } from 'execa';
import type { VersionResolution } from '../model/types.js';
import { latestTag } from '../release/semver.js';

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
  const { stdout: top } = await execa('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { timeout: timeoutMs, reject: false });
  const { stdout: gitDir } = await execa('git', ['-C', dir, 'rev-parse', '--is-bare-repository'], { timeout: timeoutMs, reject: false });
  // Only the repository rooted exactly at `dir`: never a parent repository that happens to contain it.
  if (gitDir.trim() !== 'true' && (top.trim() === '' || realpathSync(top.trim()) !== realpathSync(dir))) {
    throw new Error(`source repository ${repo} is not a git repository`);
  }
  const { stdout } = await execa('git', ['-C', dir, 'for-each-ref', '--format=%(refname:strip=2)%09%(objectname)%09%(*objectname)', 'refs/tags'], { timeout: timeoutMs });
  for (const line of stdout.split('\n')) {
    const [name, object, peeled] = line.split('\t');
    if (name && object) tags.set(name, peeled || object);
  }
  return tags;
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
    const reason = err instanceof Error ? firstLine(err.message) : String(err);
    for (const v of wanted) out[v] = { status: 'unresolved', reason };
    return out;
  }
  for (const v of wanted) {
    const tag = v === 'latest' ? latestTag([...tags.keys()], prereleases) : v;
    const commit = tag === undefined ? undefined : tags.get(tag);
    if (tag !== undefined && commit !== undefined) out[v] = { status: 'resolved', tag, commit };
    else out[v] = { status: 'not-found', reason: v === 'latest' ? 'No semver git tag found for latest' : `Git tag ${v} not found` };
  }
  return out;
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? text).trim();
}
