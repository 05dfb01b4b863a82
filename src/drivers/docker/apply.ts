// Docker actions: load-image, create-container, start, stop, restart, delete; idempotent, and only on
// containers tend owns (its labels) or an instance adopted (instances/<name>/adopted.json).
//
// create-container creates the container without starting it (`start` does, after it), and only
// once the container it replaces has stopped. An owned container made from the same spec (spec
// hash, create-request digest and image) is kept as it is. Images are never removed, so the
// previous release's image stays for a rollback.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import {
  activeRecords, isActive, markReplaced, readAdoptionRecord, readAdoptionRecords, writeAdoptionRecord, type AdoptionRecord,
} from '../../state/adopted.js';
import type { RuntimeAction } from '../../model/plan.js';
import { loadReleaseImage } from '../../release/image.js';
import { IMAGE_FILE } from '../../release/manifest.js';
import { dispatch, NotCarriedOut } from '../dispatch.js';
import type { ApplyContext } from '../types.js';
import { containerName, containerPlan, LABEL } from './container.js';
import { connect, engineMessage, statusOf, type EngineOptions } from './engine.js';
import { isOwned } from './observe.js';

/** A failure described by this driver (it names the container already). */
class DockerActionError extends Error {}

export interface DockerTimings {
  /** Seconds a SIGTERM gets before the Engine kills the process (docker stop -t; default 30). */
  stopTimeoutSeconds: number;
}

export const DEFAULT_TIMINGS: DockerTimings = { stopTimeoutSeconds: 30 };

interface Found {
  info: Docker.ContainerInspectInfo;
  /** Set when the container is an adopted one rather than tend's own. */
  adopted?: AdoptionRecord;
}

/** A Docker tag for a version (`+` is not allowed in tags). */
export function imageTag(version: string): string {
  return version.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** The container with exactly this name or id, when it exists. */
async function inspect(docker: Docker, nameOrId: string): Promise<Docker.ContainerInspectInfo | undefined> {
  try {
    const info = await docker.getContainer(nameOrId).inspect();
    // The Engine also resolves id prefixes: insist on the exact name (or the full id).
    return info.Name === `/${nameOrId}` || info.Id === nameOrId ? info : undefined;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** The container, when it exists; throws when it exists and is neither tend's nor adopted. */
async function ownedContainer(docker: Docker, name: string, ctx: ApplyContext): Promise<Found | undefined> {
  const info = await inspect(docker, name);
  if (!info) return undefined;
  if (isOwned(info.Config.Labels ?? {}, ctx.config.app)) return { info };
  const adopted = activeRecords(readAdoptionRecords(ctx.paths.instances)).find((r) => r.containerId === info.Id);
  if (adopted) return { info, adopted };
  throw new DockerActionError(`container ${name} exists and is not owned by tend (no label ${LABEL.app}=${ctx.config.app}, not adopted); not touching it`);
}

/** Graceful stop: SIGTERM, then the Engine kills after the timeout. Already stopped is fine. */
async function stopContainer(docker: Docker, id: string, t: DockerTimings): Promise<void> {
  try {
    await docker.getContainer(id).stop({ t: t.stopTimeoutSeconds });
  } catch (err) {
    if (statusOf(err) !== 304 && statusOf(err) !== 404) throw err;
  }
}

/** Stops (gracefully) and removes a container; gone already is fine. */
async function removeContainer(docker: Docker, info: Docker.ContainerInspectInfo, t: DockerTimings): Promise<void> {
  if (info.State.Running || info.State.Restarting) await stopContainer(docker, info.Id, t);
  try {
    await docker.getContainer(info.Id).remove({ force: true });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}

async function loadImage(action: RuntimeAction, ctx: ApplyContext): Promise<void> {
  const release = ctx.release;
  if (!release?.imageId) throw new DockerActionError(`load-image ${action.version ?? ''}: the release has no container image (source.image unset when it was built?)`);
  await loadReleaseImage(
    { tar: join(release.dir, IMAGE_FILE), id: release.imageId, repo: ctx.config.app, tag: imageTag(action.version ?? release.version) },
    ctx.signal,
  );
}

async function createContainer(docker: Docker, action: RuntimeAction, ctx: ApplyContext, t: DockerTimings): Promise<void> {
  const plan = containerPlan(action, ctx);
  try {
    const existing = await ownedContainer(docker, plan.name, ctx);
    const labels = existing?.info.Config.Labels ?? {};
    if (existing && !existing.adopted && labels[LABEL.hash] === (action.specHash ?? '') && labels[LABEL.config] === plan.digest
      && labels[LABEL.layout] === plan.options.Labels?.[LABEL.layout] && existing.info.Image === plan.imageId) {
      return;
    }
    if (existing) await removeContainer(docker, existing.info, t);
    if (existing?.adopted) markReplaced(ctx.paths.instances, existing.adopted, plan.name);
    // The container this instance adopted, under whatever name it has: stopped and removed before tend's own is made.
    const record = readAdoptionRecord(ctx.paths.instances, plan.instance);
    if (record && isActive(record)) {
      const adopted = await inspect(docker, record.containerId);
      if (adopted) await removeContainer(docker, adopted, t);
      markReplaced(ctx.paths.instances, record, plan.name);
    }
    mkdirSync(plan.hostDir, { recursive: true });
    const [repo, tag] = [ctx.config.app, imageTag(plan.version)];
    try {
      await docker.getImage(plan.imageId).tag({ repo, tag });
    } catch (err) {
      if (statusOf(err) === 404) throw new Error(`image ${plan.imageId} of ${plan.version} is not in the Docker Engine (load-image first)`);
      throw err;
    }
    await docker.createContainer({ ...plan.options, Image: `${repo}:${tag}` });
  } catch (err) {
    throw new DockerActionError(`create-container ${plan.name}: ${engineMessage(err, plan.secrets)}`);
  }
}

async function start(docker: Docker, name: string, ctx: ApplyContext): Promise<void> {
  const found = await ownedContainer(docker, name, ctx);
  if (!found) throw new DockerActionError(`cannot start container ${name}: it does not exist (create-container first)`);
  if (found.info.State.Running) return;
  try {
    await docker.getContainer(found.info.Id).start();
  } catch (err) {
    if (statusOf(err) !== 304) throw err;
  }
}

async function stop(docker: Docker, name: string, ctx: ApplyContext, t: DockerTimings): Promise<void> {
  const found = await ownedContainer(docker, name, ctx);
  if (found) await stopContainer(docker, found.info.Id, t);
}

async function restart(docker: Docker, name: string, ctx: ApplyContext, t: DockerTimings): Promise<void> {
  const found = await ownedContainer(docker, name, ctx);
  if (!found) throw new DockerActionError(`cannot restart container ${name}: it does not exist (create-container first)`);
  await docker.getContainer(found.info.Id).restart({ t: t.stopTimeoutSeconds });
}

/** Stops gracefully and removes the container (never its image); an adopted one's record is kept, marked removed. */
async function remove(docker: Docker, name: string, ctx: ApplyContext, t: DockerTimings): Promise<void> {
  const found = await ownedContainer(docker, name, ctx);
  if (!found) return;
  await removeContainer(docker, found.info, t);
  if (found.adopted) writeAdoptionRecord(ctx.paths.instances, { ...found.adopted, removedAt: new Date().toISOString() });
}

function run(docker: Docker, action: RuntimeAction, ctx: ApplyContext, t: DockerTimings): Promise<void> {
  return dispatch('docker', action, {
    'load-image': () => loadImage(action, ctx),
    'create-container': () => createContainer(docker, action, ctx, t),
    start: () => start(docker, containerName(action, ctx.config), ctx),
    stop: () => stop(docker, containerName(action, ctx.config), ctx, t),
    restart: () => restart(docker, containerName(action, ctx.config), ctx, t),
    delete: () => remove(docker, containerName(action, ctx.config), ctx, t),
  });
}

export async function applyDocker(action: RuntimeAction, ctx: ApplyContext, t: DockerTimings, engine: EngineOptions): Promise<void> {
  const docker = await connect(engine);
  try {
    await run(docker, action, ctx, t);
  } catch (err) {
    if (err instanceof DockerActionError || err instanceof NotCarriedOut) throw err;
    throw new DockerActionError(`docker ${action.type} ${action.target ?? action.instance ?? ''}: ${engineMessage(err)}`);
  }
}
