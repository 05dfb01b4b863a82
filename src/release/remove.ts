// Deletes one release folder: under its version lock, renamed aside first so it never looks half there.
import { errorMessage } from '../shared/errors.js';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { removeReleaseImage, type ImagePrune } from './image-prune.js';
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

export type PruneOutcome =
  | { status: 'deleted'; image?: ImagePrune['status'] }
  | { status: 'absent' | 'busy' }
  /** The release stays whole: its image could not go (in use, shared, tagged elsewhere, Engine unreachable). */
  | { status: 'kept'; why: string; error?: boolean };

export interface PruneReleaseInput {
  releasesDir: string;
  version: string;
  /** The image id of the release's manifest, when it has one. */
  imageId?: string;
  /** `<app>`, the repository its image was tagged with. */
  app: string;
  /** Image ids of the releases that stay (rollback targets, in use, newest): never removed. */
  keepImageIds: ReadonlySet<string>;
}

/**
 * Prunes one release: its Docker image first (tag and image, see removeReleaseImage), then its folder
 * with container-image.tar, all under the version's lock. When the image has to stay, or the Engine
 * cannot be asked, the release stays whole, so the next prune tries again and no image is left
 * behind with nothing that refers to it.
 */
export async function pruneRelease(input: PruneReleaseInput): Promise<PruneOutcome> {
  const dir = join(input.releasesDir, input.version);
  if (!existsSync(dir)) return { status: 'absent' };
  const lock = tryAcquireLock(join(input.releasesDir, `.lock-${input.version}`), { purpose: `delete ${input.version}` });
  if (!lock) return { status: 'busy' };
  try {
    let image: ImagePrune | undefined;
    if (input.imageId) {
      try {
        image = await removeReleaseImage({ id: input.imageId, repo: input.app, version: input.version }, input.keepImageIds);
      } catch (err) {
        return { status: 'kept', why: `its image could not be removed: ${errorMessage(err)}`, error: true };
      }
      if (image.status === 'kept') return { status: 'kept', why: image.why };
    }
    const aside = join(input.releasesDir, `.old-${input.version}-${process.pid}`);
    renameSync(dir, aside);
    rmSync(aside, { recursive: true, force: true });
    return { status: 'deleted', ...(image ? { image: image.status } : {}) };
  } finally {
    lock.release();
  }
}
