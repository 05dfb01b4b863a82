// Edits of desired files made by commands (rollback, ...): one key changed in place, comments and
// layout kept, written atomically. The files stay the single source of truth.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseDocument } from 'yaml';
import { writeFileAtomic } from '../fs/atomic.js';

/** Sets a top-level key of a desired file, keeping its comments; returns the previous value. */
export function setDesiredKey(file: string, key: string, value: string): unknown {
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`${file}: cannot edit a file with YAML errors (${doc.errors[0]!.message.split('\n')[0]})`);
  const previous: unknown = doc.get(key);
  doc.set(key, value);
  writeFileAtomic(file, doc.toString());
  return previous;
}

/** The folder is inside a git work tree (then edits should be committed). */
export function inGitRepo(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return true;
    if (dirname(d) === d) return false;
  }
}
