// The tmux driver: sessions on a dedicated server socket (`tmux -L <tmux.socket>`, default `tend`).
import type { Driver } from '../types.js';
import { applyTmux } from './apply.js';
import { observeTmux } from './observe.js';
import { DEFAULT_TIMINGS, type StopTimings } from './process.js';

export type TmuxDriverOptions = Partial<StopTimings>;

/** A tmux driver; options shorten the stop timeouts (tests). */
export function createTmuxDriver(options: TmuxDriverOptions = {}): Driver {
  const timings: StopTimings = { ...DEFAULT_TIMINGS, ...options };
  return {
    runtime: 'tmux',
    observe: (ctx) => observeTmux(ctx),
    apply: (action, ctx) => applyTmux(action, ctx, timings),
  };
}

export const tmuxDriver: Driver = createTmuxDriver();
