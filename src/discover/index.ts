// Discovery of existing instances in Docker: list, adopt, and remove adopted instances whose container is gone.
export { discover, type Discovery, type DiscoverOptions, type FoundContainer } from './scan.js';
export { adopt, type Adopted, type AdoptPaths, type AdoptResult } from './adopt.js';
export { readAdoptionRecords, type AdoptionRecord } from '../state/adopted.js';
export { discoveryReason, imageMatches, instanceNameFor, versionFromImage } from '../drivers/docker/discovery.js';

export {
  cleanupStopped, goneAdoptions, previewCleanup,
  type CleanupOptions, type CleanupResult, type KeptInstance, type RemovedInstance, type StoppedInstance,
} from './cleanup.js';
