// systemd: tend-only fields rewrite the unit's X-Tend keys + daemon-reload; the rest restarts.
import type { Compare } from '../types.js';
import { restartUnlessTendOnly } from '../compare-rules.js';

export const compare: Compare = restartUnlessTendOnly;
