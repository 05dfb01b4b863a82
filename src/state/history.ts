// `instances/<name>/.version-history`: one JSON line per change, appended whole or not at all.
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { assertOwnDirOrAbsent, openOwnFile, readOwnFile, UnsafeFileError } from '../fs/safe.js';
import { dirname, join } from 'node:path';
import { withFileErrors } from '../fs/io-error.js';
import type { HistoryEntry, HistoryOutcome, HistoryReason } from '../model/types.js';
import { errorMessage } from '../shared/errors.js';

export const HISTORY_FILE = '.version-history';

const REASONS: readonly HistoryReason[] = ['create', 'update', 'rollback', 'auto-rollback'];
const OUTCOMES: readonly HistoryOutcome[] = ['healthy', 'failed'];

export function historyPath(instancesDir: string, name: string): string {
  return join(instancesDir, name, HISTORY_FILE);
}

export interface HistoryRead {
  entries: HistoryEntry[];
  /** Lines that were skipped, e.g. `line 3: torn or not JSON` (a crash while writing, or an edit by hand). */
  problems: string[];
}

/** Why `v` is not a history entry, or undefined when it is one. */
function entryProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const e = v as Record<string, unknown>;
  for (const k of ['version', 'updatedAt', 'updatedBy'] as const) if (typeof e[k] !== 'string' || e[k] === '') return `no ${k}`;
  if (!REASONS.includes(e.reason as HistoryReason)) return `reason ${JSON.stringify(e.reason)} is not one of ${REASONS.join(', ')}`;
  if (!OUTCOMES.includes(e.outcome as HistoryOutcome)) return `outcome ${JSON.stringify(e.outcome)} is not healthy or failed`;
  if (e.id !== undefined && typeof e.id !== 'string') return 'id is not a string';
  return undefined;
}

/** Parses history text; a torn or foreign line is skipped and reported, the rest stays usable. */
export function parseHistory(text: string): HistoryRead {
  const entries: HistoryEntry[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const torn = i === lines.length - 1 ? ' (torn last line: no newline)' : '';
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      problems.push(`line ${i + 1}: not JSON${torn}`);
      return;
    }
    const problem = entryProblem(v);
    if (problem) problems.push(`line ${i + 1}: ${problem}${torn}`);
    else entries.push(v as HistoryEntry);
  });
  return { entries, problems };
}

/** Entries and skipped lines of a history file; a missing file has none of either. */
export function readHistoryFile(file: string): HistoryRead {
  let text: string | undefined;
  try {
    text = readOwnFile(file);
  } catch (err) {
    return { entries: [], problems: [err instanceof UnsafeFileError ? err.message : `cannot read: ${errorMessage(err)}`] };
  }
  return text === undefined ? { entries: [], problems: [] } : parseHistory(text);
}

/** The entries of a history file, oldest first (skipped lines dropped silently). */
export function readHistory(file: string): HistoryEntry[] {
  return readHistoryFile(file).entries;
}

/** The serialised line, keys in a fixed order. */
function line(e: HistoryEntry): string {
  const { version, updatedAt, updatedBy, reason, outcome, id, detail } = e;
  return `${JSON.stringify({ version, updatedAt, updatedBy, reason, outcome, ...(id !== undefined ? { id } : {}), ...(detail !== undefined ? { detail } : {}) })}\n`;
}

export type AppendResult = { appended: true } | { appended: false; why: 'duplicate id' };

/**
 * Appends one entry (refusing a link or special file in the history's place: UnsafeFileError) as a single `O_APPEND` write of the whole line, then fsyncs, so a crash leaves
 * the line there or not at all (a short write, e.g. a full disk, is cut off again and throws).
 * After a torn last line (a crash of an older writer) it starts a new line, so only the torn one is lost.
 *
 * Idempotent on re-run: an entry whose `id` is already on file is not appended again, so an
 * executor that crashed after appending and runs the same step again records it once. The `id`
 * must name one attempt (say the plan action id + spec hash + the attempt's start time), or a
 * deliberate second attempt of the same spec would be dropped. Concurrent appenders must hold the
 * instance lock (src/state/lock.ts): the duplicate check and the write are not one atomic step.
 */
export function appendHistory(file: string, entry: HistoryEntry): AppendResult {
  const problem = entryProblem(entry);
  if (problem) throw new TypeError(`not a history entry: ${problem}`);
  assertOwnDirOrAbsent(dirname(file));
  // ENOSPC, EACCES, EIO...: `cannot append to instances/web/.version-history: ...`.
  return withFileErrors('append to', file, () => append(file, entry));
}

function append(file: string, entry: HistoryEntry): AppendResult {
  mkdirSync(dirname(file), { recursive: true });
  // Never through a link: a symlink here must not make tend (root) append to another file.
  const fd = openOwnFile(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o644);
  try {
    const text = readFileSync(fd, 'utf8');
    if (entry.id !== undefined && parseHistory(text).entries.some((e) => e.id === entry.id)) return { appended: false, why: 'duplicate id' };
    const before = fstatSync(fd).size;
    const data = Buffer.from(`${text !== '' && !text.endsWith('\n') ? '\n' : ''}${line(entry)}`);
    const written = writeSync(fd, data);
    if (written !== data.length) {
      ftruncateSync(fd, before);
      throw new Error(`short write to ${file} (${written} of ${data.length} bytes); the entry was not recorded`);
    }
    fsyncSync(fd);
    if (before === 0) syncDir(dirname(file));
    return { appended: true };
  } finally {
    closeSync(fd);
  }
}

/** Makes a new file's directory entry durable (best effort: some systems cannot fsync a folder). */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported here
  }
}

/** The newest healthy entry (by file order, not clocks), skipping `exceptVersion`: the rollback target. */
export function lastHealthy(entries: readonly HistoryEntry[], exceptVersion?: string): HistoryEntry | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    if (e.outcome === 'healthy' && e.version !== exceptVersion) return e;
  }
  return undefined;
}
