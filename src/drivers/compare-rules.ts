// Shared compare rules the drivers pick from.
import type { Compare } from './types.js';
import { onlyTendFields } from '../shared/spec-diff.js';

/**
 * The instance-directory layout generation the Docker and systemd drivers stamp on what they make
 * (label tend.layout, X-Tend-Layout). 2: the app may write only data/ and projects/ (mounted alone in
 * Docker, the only ReadWritePaths= of a hardened unit). An owned thing of an older layout (no mark: 1)
 * is re-created once.
 */
export const INSTANCE_LAYOUT = 2;

/** Tend-only fields (health, rollout) are restamped in place (reload); anything else restarts. */
export const restartUnlessTendOnly: Compare = ({ versionChanged, fields }) =>
  !versionChanged && onlyTendFields(fields) ? 'reload' : 'restart';
