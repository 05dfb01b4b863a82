// tmux: tend-only fields update the session's @tend options; the rest restarts the pane.
import type { Compare } from '../types.js';
import { restartUnlessTendOnly } from '../compare-rules.js';

export const compare: Compare = restartUnlessTendOnly;
