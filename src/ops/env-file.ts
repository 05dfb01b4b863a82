// Edits of an instance's .env (its secrets): one KEY=VALUE line set or removed, every other line and
// comment kept, written atomically with mode 0600. Values are written so that tend (parseEnvFile) and
// systemd (EnvironmentFile=) read them back the same; errors never contain a value.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { readOwnFile, UnsafeFileError, writeOwnFile } from '../fs/safe.js';
import type { EnvProblem } from '../model/types.js';
import { parseEnvFile } from '../shared/env-parse.js';
import { TendError } from '../shared/errors.js';

/**
 * A .env line that tend and systemd would read differently stands in the way of an edit, or a key or
 * value no .env line can carry: the operator's to fix (the message names the key or line, never a value).
 */
export class EnvLineError extends TendError {
  constructor(message: string) {
    super(message, { kind: 'user' });
  }
}

export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LINE_KEY = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/;
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]*$/;

/** Why `key` cannot name an env variable, or undefined. */
export function envKeyProblem(key: string): string | undefined {
  return ENV_KEY.test(key) ? undefined : `"${key}" is not an environment variable name (letters, digits and _, not starting with a digit)`;
}

/**
 * `KEY=VALUE` as a .env line both readers agree on: bare when plain, else single-quoted, else
 * double-quoted. Throws (naming only the key) for a value no form carries: a newline, NUL, or `'`
 * together with `"`, `\`, `$` or a backquote.
 */
export function formatEnvLine(key: string, value: string): string {
  const problem = envKeyProblem(key);
  if (problem) throw new EnvLineError(problem);
  if (/[\n\r\0]/.test(value)) throw new EnvLineError(`the value of ${key} contains a line break or NUL, which a .env file cannot hold`);
  if (PLAIN.test(value)) return `${key}=${value}`;
  if (!value.includes("'")) return `${key}='${value}'`;
  if (!/["\\$`]/.test(value)) return `${key}="${value}"`;
  throw new EnvLineError(`the value of ${key} mixes ' with " \\ $ or \`, which tend and systemd would read differently in a .env file`);
}

function readText(file: string): string {
  try {
    return readOwnFile(file) ?? '';
  } catch (err) {
    if (err instanceof UnsafeFileError) throw err;
    throw new TendError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
}

/** The names set in a .env file (a missing file has none). */
export function envFileKeys(file: string): string[] {
  return [...parseEnvFile(readText(file)).keys()].sort();
}

export interface EnvEdit {
  /** Keys whose value changed or that were added. */
  set: string[];
  /** Keys whose lines were removed. */
  unset: string[];
}

/**
 * Sets (string) or removes (undefined) keys of a .env file, keeping other lines and comments in
 * place: a set replaces the key's first line and drops later duplicates, a new key is appended.
 * Writes only when something changed, atomically, mode 0600 (the folder is made 0700 when missing).
 * Throws (naming the line, never a value) when another key's line is one systemd would read differently.
 */
export function editEnvFile(file: string, changes: Readonly<Record<string, string | undefined>>): EnvEdit {
  const text = readText(file);
  const problems: EnvProblem[] = [];
  const current = parseEnvFile(text, problems);
  // A line of a key being set or removed is replaced; any other one systemd would misread stays in the way.
  const stays = problems.find((p) => p.key === undefined || !(p.key in changes));
  if (stays) throw new EnvLineError(`${file}:${stays.line}:${stays.col}: ${stays.message}; fix or remove that line first`);
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  const result: EnvEdit = { set: [], unset: [] };
  const rendered = new Map<string, string>();
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) {
      if (current.has(key)) result.unset.push(key);
    } else {
      rendered.set(key, formatEnvLine(key, value));
      if (current.get(key) !== value) result.set.push(key);
    }
  }
  if (result.set.length === 0 && result.unset.length === 0) return result;
  const placed = new Set<string>();
  const out: string[] = [];
  for (const line of lines) {
    const key = LINE_KEY.exec(line)?.[1];
    if (key === undefined || !(key in changes)) {
      out.push(line);
      continue;
    }
    const next = rendered.get(key);
    if (next === undefined || placed.has(key)) continue;
    out.push(next);
    placed.add(key);
  }
  for (const [key, line] of rendered) if (!placed.has(key)) out.push(line);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeOwnFile(file, out.length > 0 ? `${out.join('\n')}\n` : '', 0o600);
  return { set: result.set.sort(), unset: result.unset.sort() };
}
