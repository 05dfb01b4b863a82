// Discovery of existing instances in Docker: list and adopt (removing adopted instances whose container
// is gone is an operator command: ops/cleanup-stopped.ts).
export { discover, type Discovery, type DiscoverOptions, type FoundContainer } from './scan.js';
export { adopt, type Adopted, type AdoptPaths, type AdoptResult } from './adopt.js';
export { readAdoptionRecords, type AdoptionRecord } from '../state/adopted.js';
export { discoveryReason, imageMatches, instanceNameFor, versionFromImage } from '../drivers/docker/discovery.js';
