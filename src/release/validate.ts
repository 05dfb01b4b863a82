// Validates a built release before use: manifest fields, artifacts (present, executable, checksums), image archive.
import { lstatSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { IMAGE_FILE, readManifest, type ReleaseManifest } from './manifest.js';
import { sha256File } from './files.js';
import { imageArchiveProblem } from './tar.js';

export interface ReleaseValidation {
  valid: boolean;
  problem?: string;
  /** The manifest's commit, also when the release is invalid ('' when unknown). */
  commit: string;
  manifest?: ReleaseManifest;
}

/** Checksums keyed by file identity and change time, so repeated observation does not re-read large files. */
const checksums = new Map<string, { key: string; sha256: string }>();

function cachedSha256(file: string, st: Stats): string {
  const key = `${st.dev}:${st.ino}:${st.size}:${st.ctimeMs}:${st.mtimeMs}`;
  const hit = checksums.get(file);
  if (hit?.key === key) return hit.sha256;
  const sha256 = sha256File(file);
  checksums.set(file, { key, sha256 });
  return sha256;
}

function statOf(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    // missing: the caller reports it
    return undefined;
  }
}

/** Is `releases/<version>/` usable? The folder name must match the manifest's version. */
export function validateRelease(dir: string): ReleaseValidation {
  const read = readManifest(dir);
  if (read.status === 'problem') return { valid: false, problem: read.problem, commit: read.commit };
  const m = read.manifest;
  const fail = (problem: string): ReleaseValidation => ({ valid: false, problem, commit: m.commit, manifest: m });
  if (m.version !== basename(dir)) return fail(`manifest.json names version ${m.version}, not ${basename(dir)}`);
  for (const a of m.artifacts) {
    const file = join(dir, a.path);
    const st = statOf(file);
    if (!st) return fail(`artifact ${a.path} is missing`);
    if (!st.isFile()) return fail(`artifact ${a.path} is not a regular file`);
    if ((st.mode & 0o111) === 0) return fail(`artifact ${a.path} is not executable`);
    if ((typeof a.size === 'number' && st.size !== a.size) || cachedSha256(file, st) !== a.sha256) {
      return fail(`artifact ${a.path} does not match its checksum`);
    }
  }
  if (m.image) {
    const file = join(dir, IMAGE_FILE);
    const st = statOf(file);
    if (!st?.isFile()) return fail(`${IMAGE_FILE} is missing`);
    if (cachedSha256(file, st) !== m.image.sha256) return fail(`${IMAGE_FILE} does not match its checksum`);
    const problem = imageArchiveProblem(file);
    if (problem) return fail(`${IMAGE_FILE} ${problem}`);
  }
  return { valid: true, commit: m.commit, manifest: m };
}
