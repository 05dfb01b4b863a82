// The runtime drivers, one per folder, registered by runtime name.
import type { Runtime } from '../model/types.js';
import type { Driver } from './types.js';

/**
 * A runtime whose driver has not landed yet: it reports itself unavailable (so the planner
 * blocks its instances instead of guessing) and refuses to apply anything.
 */
function notYetImplemented(runtime: Runtime): Driver {
  const reason = `the ${runtime} driver is not implemented yet`;
  return {
    runtime,
    observe: async () => ({ status: 'unavailable', reason, items: [] }),
    apply: async (action) => {
      throw new Error(`cannot ${action.type} ${action.target ?? action.instance ?? ''}: ${reason}`);
    },
  };
}

export const drivers: Record<Runtime, () => Promise<Driver>> = {
  systemd: async () => (await import('./systemd/index.js')).systemdDriver,
  launchd: async () => (await import('./launchd/index.js')).launchdDriver,
  docker: async () => (await import('./docker/index.js')).dockerDriver,
  tmux: async () => (await import('./tmux/index.js')).tmuxDriver,
};
