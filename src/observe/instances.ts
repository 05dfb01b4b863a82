// Observation: each instance's history, status, restart requests and .env (names and digest only).
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { EnvProblem, InstanceState, InstanceStates } from '../model/types.js';
import { canonicalJson, sha256 } from '../planner/hash.js';
import { readHistory } from '../state/history.js';
import { parseEnvFile } from './env-parse.js';
import { readStatus } from '../state/status.js';

/** Moved to src/state/history.ts and src/observe/env-parse.ts; re-exported for existing importers. */
export { readHistory, parseEnvFile };

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function readJson<T>(file: string): T | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
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
  return {
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
