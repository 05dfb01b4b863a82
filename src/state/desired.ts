// Loading desired/ with what the state knows: which instance already holds a port (its last applied
// spec in status.json), so that a new file reusing that port is the invalid one (spec/port-claims.ts).
import type { DesiredState } from '../model/types.js';
import { rootPaths } from '../spec/config.js';
import { loadDesired as loadDesiredFiles, type LoadDesiredOptions } from '../spec/desired.js';
import { readStatus, statusPath } from './status.js';

export interface LoadOptions extends LoadDesiredOptions {
  /** instances/ (paths.instances). Default: tend.yaml's `paths.instances` under root, or TEND_INSTANCES_DIR. */
  instancesDir?: string;
}

/** spec/desired.ts's loadDesired, with port holders read from instances/<name>/status.json. */
export function loadDesired(opts: LoadOptions): DesiredState {
  const { instancesDir: given, ...rest } = opts;
  const instancesDir = given ?? rootPaths(opts.root, opts.config, process.env, process.cwd()).instances;
  return loadDesiredFiles({ ...rest, appliedSpecOf: rest.appliedSpecOf ?? ((name) => readStatus(statusPath(instancesDir, name)).status?.applied?.spec) });
}
