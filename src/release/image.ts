// Saves the image a build produced from the Docker Engine (dockerode, streamed) into the release.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

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
    throw new Error(`cannot inspect image ${name}: ${(err as Error).message}`);
  }
  const hash = createHash('sha256');
  const stream = await docker.getImage(id).get();
  await pipeline(
    stream,
    async function* (source: AsyncIterable<Buffer | string>) {
      for await (const chunk of source) {
        hash.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(file, { mode: 0o644 }),
    { signal },
  );
  return { id, sha256: hash.digest('hex') };
}
