// Discovery of existing instances in Docker: list, adopt, and forget adopted containers that are gone.
import { removeAdoptionRecord } from '../state/adopted.js';
import type { Discovery, FoundContainer } from './scan.js';

export { discover, type Discovery, type DiscoverOptions, type FoundContainer } from './scan.js';
export { adopt, type Adopted, type AdoptPaths, type AdoptResult } from './adopt.js';
export { readAdoptionRecords, type AdoptionRecord } from '../state/adopted.js';
export { discoveryReason, imageMatches, instanceNameFor, versionFromImage } from '../drivers/docker/discovery.js';

/** Removes the records of adopted containers that no longer exist; returns those it forgot. */
export function cleanupStopped(discovery: Discovery, instancesDir: string): FoundContainer[] {
  const gone = discovery.containers.filter((c) => c.gone && c.record);
  for (const c of gone) removeAdoptionRecord(instancesDir, c.record!.instance);
  return gone;
}
