// Shared compare rules the drivers pick from.
import type { Compare } from './types.js';
import { onlyTendFields } from '../planner/diff.js';

/** Tend-only fields (health, rollout) are restamped in place (reload); anything else restarts. */
export const restartUnlessTendOnly: Compare = ({ versionChanged, fields }) =>
  !versionChanged && onlyTendFields(fields) ? 'reload' : 'restart';
