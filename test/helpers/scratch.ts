// Temporary folders for one test file, removed after its tests even when they fail.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** Call at the top of a test file; returns `scratch(prefix)`, which makes a fresh folder. */
export function useScratch(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = mkdtempSync(join(tmpdir(), `tend-${prefix}-`));
    made.push(dir);
    return dir;
  };
}
