// Issue 14, point 1 on tmux: see test/helpers/invalid-restore.ts (one file per runtime so that the runtimes run side by side).
import { defineInvalidRestoreSuite } from './helpers/invalid-restore.js';

await defineInvalidRestoreSuite('tmux');
