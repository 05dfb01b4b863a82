// Saves the image a build produced from the Docker Engine (dockerode, streamed) into the release.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { ioError } from '../fs/io-error.js';
import { errorMessage } from '../shared/errors.js';

export interface SavedImage {
  id: string;
  sha256: string;
}

/** `docker save` of the image `name` by its id (so the tar carries no movable tag) into `file`. */
export async function saveImage(name: string, file: string, signal?: AbortSignal): Promise<SavedImage> {
  // Loaded on first use: most commands never talk to Docker.
  const { default: Docker } = await import('dockerode');
  const docker = new Docker();
  let id: string;
  try {
    id = (await docker.getImage(name).inspect()).Id;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404) throw new Error(`the build did not produce image ${name} (not found in the Docker Engine)`);
    throw new Error(`cannot inspect image ${name}: ${errorMessage(err)}`);
  }
  const hash = createHash('sha256');
  const stream = await docker.getImage(id).get();
  const out = createWriteStream(file, { mode: 0o644 });
  let fileError: unknown;
  out.on('error', (err) => { fileError = err; });
  try {
    await pipeline(
      stream,
      async function* (source: AsyncIterable<Buffer | string>) {
        for await (const chunk of source) {
          hash.update(chunk);
          yield chunk;
        }
      },
      out,
      { signal },
    );
  } catch (err) {
    // The tar file's own errors (ENOSPC, EIO) name it; the Engine's stay as they are.
    throw err === fileError ? ioError('write', file, err) : err;
  }
  return { id, sha256: hash.digest('hex') };
}

export interface ReleaseImage {
  /** `container-image.tar` of the release. */
  tar: string;
  /** The image id recorded in the manifest. */
  id: string;
  /** Tag given after loading: `<app>:<version>`, so a fixed build tag never makes two releases collide. */
  repo: string;
  tag: string;
}

/** Make a release's image available by id: load the tar only when the engine lacks it, then tag it. */
export async function loadReleaseImage(image: ReleaseImage, signal?: AbortSignal): Promise<{ loaded: boolean }> {
  const { default: Docker } = await import('dockerode');
  const docker = new Docker();
  let loaded = false;
  const present = await docker.getImage(image.id).inspect().then(() => true, (err: { statusCode?: number }) => {
    if (err.statusCode === 404) return false;
    throw err;
  });
  if (!present) {
    const response = await docker.loadImage(createReadStream(image.tar), { quiet: true, abortSignal: signal });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(response, (err: Error | null, output: { error?: string }[]) => {
        const failed = err ?? output.find((o) => o.error);
        if (failed) reject(new Error(`docker load of ${image.tar} failed: ${failed instanceof Error ? failed.message : failed.error}`));
        else resolve();
      });
    });
    const after = await docker.getImage(image.id).inspect().then(() => true, () => false);
    if (!after) throw new Error(`${image.tar} does not hold image ${image.id}`);
    loaded = true;
  }
  await docker.getImage(image.id).tag({ repo: image.repo, tag: image.tag });
  return { loaded };
}
