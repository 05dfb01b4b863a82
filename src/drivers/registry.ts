// The runtime drivers, one per folder, registered by runtime name.
import type { Runtime } from '../model/types.js';
import type { Driver } from './types.js';

export const drivers: Record<Runtime, () => Promise<Driver>> = {
  systemd: async () => (await import('./systemd/index.js')).systemdDriver,
  launchd: async () => (await import('./launchd/index.js')).launchdDriver,
  docker: async () => (await import('./docker/index.js')).dockerDriver,
  tmux: async () => (await import('./tmux/index.js')).tmuxDriver,
};
