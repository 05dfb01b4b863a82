// Removes a pruned release's Docker image: its `<app>:<version>` tag, then the image when nothing else needs it.
import { errorMessage } from '../shared/errors.js';
import type Docker from 'dockerode';

export interface PrunedImage {
  /** The image id recorded in the release's manifest. */
  id: string;
  /** `<app>`: the repository the image was tagged with after loading. */
  repo: string;
  version: string;
}

export type ImagePrune =
  | { status: 'removed' }
  /** Not in the Engine (never loaded here, or removed already). */
  | { status: 'absent' }
  /** Kept, and with it the release (so a later prune tries again): why. */
  | { status: 'kept'; why: string };

/** The tag a release's image gets after loading (the Docker driver's rule: `v1.2.0`, `latest`, other characters as `_`). */
export function releaseImageTag(version: string): string {
  return version.replace(/[^A-Za-z0-9_.-]/g, '_');
}

const statusOf = (err: unknown) => (err as { statusCode?: number }).statusCode;

/**
 * Never removes an image a container uses (running or not: Docker would refuse, and it may be an
 * instance's), one a kept release shares (`keepIds`: the rollback targets and releases in use), or one
 * another name still tags (a build tag like `app:latest` now pointing at it): those are kept.
 */
export async function removeReleaseImage(image: PrunedImage, keepIds: ReadonlySet<string>, docker?: Docker): Promise<ImagePrune> {
  if (!docker) {
    const { default: Engine } = await import('dockerode');
    docker = new Engine();
  }
  const tag = `${image.repo}:${releaseImageTag(image.version)}`;
  if (keepIds.has(image.id)) return { status: 'kept', why: `image ${short(image.id)} is also a kept release's` };
  let info: Docker.ImageInspectInfo;
  try {
    info = await docker.getImage(image.id).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return { status: 'absent' };
    throw new Error(`cannot inspect image ${short(image.id)}: ${errorMessage(err)}`);
  }
  const users = await docker.listContainers({ all: true, filters: { ancestor: [image.id] } });
  if (users.length > 0) {
    const names = users.map((c) => `${(c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '')} (${c.State})`);
    return { status: 'kept', why: `image ${short(image.id)} is used by container ${names.join(', ')}` };
  }
  const tags = info.RepoTags ?? [];
  const others = tags.filter((t) => t !== tag);
  if (others.length > 0) {
    // Another name (say the build tag, when this was the last build) still wants it: the release stays
    // until that name moves on, so the image is not left behind untracked.
    return { status: 'kept', why: `image ${short(image.id)} is also tagged ${others.join(', ')}` };
  }
  try {
    // By id, without force: the Engine refuses (409) when something started using it meanwhile.
    await docker.getImage(image.id).remove({ noprune: false });
  } catch (err) {
    if (statusOf(err) === 404) return { status: 'removed' };
    if (statusOf(err) === 409) return { status: 'kept', why: `image ${short(image.id)}: ${errorMessage(err).replace(/^\(HTTP code 409\)\s*/, '')}` };
    throw new Error(`cannot remove image ${short(image.id)} (${tag}): ${errorMessage(err)}`);
  }
  return { status: 'removed' };
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
