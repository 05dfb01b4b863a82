// launchd: tend-only fields rewrite the plist's tend keys; the rest restarts the job.
import type { Compare } from '../types.js';
import { restartUnlessTendOnly } from '../compare-rules.js';

export const compare: Compare = restartUnlessTendOnly;
