// `instances/<name>/status.json`: the instance's phase and why, written atomically; `since` kept while the phase holds.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readOwnFile, writeOwnFile } from '../fs/safe.js';
import type { Phase, StatusFile } from '../model/types.js';
import { errorMessage } from '../shared/errors.js';

export const STATUS_FILE = 'status.json';

export const PHASES: readonly Phase[] = ['Ready', 'Progressing', 'Interrupted', 'Degraded', 'RolledBack', 'Failed', 'Stopped', 'InvalidSpec', 'Unknown'];

export function statusPath(instancesDir: string, name: string): string {
  return join(instancesDir, name, STATUS_FILE);
}

export type StatusRead = { status: StatusFile; reason?: undefined } | { status: undefined; reason: string };

/** Why `v` cannot be a status file (only what readers rely on is checked), or undefined. */
function statusProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'is not a JSON object';
  const s = v as Record<string, unknown>;
  if (!PHASES.includes(s.phase as Phase)) return `has no valid phase (${JSON.stringify(s.phase)})`;
  for (const k of ['since', 'message', 'observedVersion', 'desiredVersion'] as const) {
    if (s[k] !== undefined && typeof s[k] !== 'string') return `has a ${k} that is not a string`;
  }
  if (s.port !== undefined && typeof s.port !== 'number') return 'has a port that is not a number';
  for (const k of ['held', 'applied', 'health'] as const) {
    if (s[k] !== undefined && (typeof s[k] !== 'object' || s[k] === null)) return `has a ${k} that is not an object`;
  }
  return undefined;
}

/** The status file, or undefined with the reason (missing, unreadable, not JSON, no phase); never throws. */
export function readStatus(file: string): StatusRead {
  let text: string | undefined;
  try {
    text = readOwnFile(file);
  } catch (err) {
    return { status: undefined, reason: `${file} cannot be read: ${errorMessage(err)}` };
  }
  if (text === undefined) return { status: undefined, reason: `${file} does not exist` };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { status: undefined, reason: `${file} is not valid JSON: ${errorMessage(err)}` };
  }
  const problem = statusProblem(v);
  return problem ? { status: undefined, reason: `${file} ${problem}` } : { status: v as StatusFile };
}

export interface WriteStatusOptions {
  /** The time a new phase starts (default: now). */
  now?: Date;
}

/** `since` of the file on disk when the phase stays the same, else `now` (an explicit `since` wins). */
function withSince(next: StatusFile, previous: StatusFile | undefined, now: Date): StatusFile {
  if (next.since) return next;
  const since = previous?.phase === next.phase && previous.since ? previous.since : now.toISOString();
  return { ...next, since };
}

/** Keys in a fixed order, undefined values dropped, so the file diffs cleanly. */
function serialise(s: StatusFile): string {
  const { phase, desiredVersion, observedVersion, port, health, since, message, held, applied, ...rest } = s;
  const ordered = { phase, desiredVersion, observedVersion, port, health, since, message, held, applied, ...rest };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/**
 * Replaces the status file with `status` (temporary file + rename). `since` is carried over from
 * the file when the phase does not change, and set to `now` when it does. Returns what was written.
 */
export function writeStatus(file: string, status: StatusFile, opts: WriteStatusOptions = {}): StatusFile {
  const problem = statusProblem(status);
  if (problem) throw new TypeError(`status ${problem}`);
  const next = withSince(status, readStatus(file).status, opts.now ?? new Date());
  mkdirSync(dirname(file), { recursive: true });
  writeOwnFile(file, serialise(next));
  return next;
}

/**
 * Merges `patch` into the status on file (a key set to undefined is removed, e.g. `held: undefined`
 * lifts a hold) and writes it like `writeStatus`. Without a file, `patch` must name the phase.
 * Callers hold the instance lock: read-modify-write is not atomic between processes.
 */
export function updateStatus(file: string, patch: Partial<StatusFile>, opts: WriteStatusOptions = {}): StatusFile {
  const previous = readStatus(file).status;
  const merged = { ...previous, ...patch } as StatusFile;
  for (const k of Object.keys(merged) as (keyof StatusFile)[]) if (merged[k] === undefined) delete merged[k];
  if (patch.phase !== undefined && patch.phase !== previous?.phase && patch.since === undefined) delete merged.since;
  const problem = statusProblem(merged);
  if (problem) throw new TypeError(`status ${problem}`);
  const next = withSince(merged, previous, opts.now ?? new Date());
  mkdirSync(dirname(file), { recursive: true });
  writeOwnFile(file, serialise(next));
  return next;
}
