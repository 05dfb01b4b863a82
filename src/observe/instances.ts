// Observation: each instance's history, status, restart requests and .env (names and digest only).
import { join, relative, sep } from 'node:path';
import { assertOwnDirOrAbsent, assertOwnFileOrAbsent, readOwnFile } from '../fs/safe.js';
import type { EnvProblem, InstanceState, InstanceStates } from '../model/types.js';
import { canonicalJson, sha256 } from '../shared/hash.js';
import { readHistory } from '../state/history.js';
import { parseEnvFile } from '../shared/env-parse.js';
import { readStatus } from '../state/status.js';
import { errorMessage } from '../shared/errors.js';


/** tend's own entries of an instance directory: never links, FIFOs or folders (see OWN_FILES in src/fs/layout.ts). */
export const OWN_FILES = ['.env', '.version-history', 'status.json', 'requests.json', 'adopted.json', 'config.yaml'] as const;

function readText(file: string): string | undefined {
  try {
    return readOwnFile(file);
  } catch {
    // unsafe entries are reported by unsafeEntries(); a missing file is undefined already
    return undefined;
  }
}

/** Why tend refuses to act on the instance directory: a link or special file among its own files. */
export function unsafeEntries(dir: string): string[] {
  const out: string[] = [];
  const check = (f: () => void) => {
    try {
      f();
    } catch (err) {
      out.push(errorMessage(err));
    }
  };
  check(() => assertOwnDirOrAbsent(dir));
  if (out.length > 0) return out;
  for (const f of OWN_FILES) check(() => assertOwnFileOrAbsent(join(dir, f)));
  check(() => assertOwnDirOrAbsent(join(dir, 'logs')));
  return out;
}

function readJson<T>(file: string): T | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    // a torn or hand-edited JSON file reads as absent
    return undefined;
  }
}

/** A digest of the values, so a changed secret changes the spec hash without the value leaving this function. */
export function envDigest(env: Map<string, string>): string {
  return sha256(canonicalJson(Object.fromEntries([...env.entries()].sort())));
}

export function readInstanceState(root: string, instancesDir: string, name: string): InstanceState {
  const dir = join(instancesDir, name);
  const envPath = join(dir, '.env');
  const problems: EnvProblem[] = [];
  const env = parseEnvFile(readText(envPath) ?? '', problems);
  const status = readStatus(join(dir, 'status.json')).status;
  const requests = readJson<{ restartRequestedAt?: string }>(join(dir, 'requests.json'));
  const rel = relative(root, envPath);
  const unsafe = unsafeEntries(dir);
  return {
    ...(unsafe.length > 0 ? { unsafe } : {}),
    history: readHistory(join(dir, '.version-history')),
    ...(status?.phase ? { phase: status.phase } : {}),
    ...(status?.held ? { held: status.held } : {}),
    ...(status?.applied ? { applied: status.applied } : {}),
    ...(status?.crashes ? { crashes: status.crashes } : {}),
    ...(requests?.restartRequestedAt ? { restartRequestedAt: requests.restartRequestedAt } : {}),
    env: {
      file: rel.startsWith('..') ? envPath : rel.split(sep).join('/'), keys: [...env.keys()].sort(), digest: envDigest(env),
      ...(problems.length > 0 ? { problems } : {}),
    },
  };
}

export function readInstanceStates(root: string, instancesDir: string, names: readonly string[]): InstanceStates {
  return Object.fromEntries([...new Set(names)].sort().map((n) => [n, readInstanceState(root, instancesDir, n)]));
}
