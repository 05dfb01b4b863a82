// Deletes one release folder: under its version lock, renamed aside first so it never looks half there.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tryAcquireLock } from '../fs/lock.js';

export type RemoveOutcome = 'deleted' | 'absent' | 'busy';

/** `busy` when a build of that version holds its lock right now. */
export function removeRelease(releasesDir: string, version: string): RemoveOutcome {
  const dir = join(releasesDir, version);
  if (!existsSync(dir)) return 'absent';
  const lock = tryAcquireLock(join(releasesDir, `.lock-${version}`), { purpose: `delete ${version}` });
  if (!lock) return 'busy';
  try {
    const aside = join(releasesDir, `.old-${version}-${process.pid}`);
    renameSync(dir, aside);
    rmSync(aside, { recursive: true, force: true });
    return 'deleted';
  } finally {
    lock.release();
  }
}
