// Registry of the drivers' pure compare functions; the planner may import this, not the drivers.
import type { Runtime } from '../model/types.js';
import type { Compare } from './types.js';
import { compare as systemd } from './systemd/compare.js';
import { compare as launchd } from './launchd/compare.js';
import { compare as docker } from './docker/compare.js';
import { compare as tmux } from './tmux/compare.js';

export const compares: Record<Runtime, Compare> = { systemd, launchd, docker, tmux };
