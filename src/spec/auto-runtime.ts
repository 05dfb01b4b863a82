// What `runtime: auto` means on this host, decided once while loading: launchd on macOS, systemd where a manager answers, else tmux.
//
// "systemd answers" is a cheap file check, never a process: a booted systemd creates
// /run/systemd/system (sd_booted(3)); a user manager listens on $XDG_RUNTIME_DIR/systemd/private
// (XDG_RUNTIME_DIR defaulting to /run/user/<uid>). Which one counts follows tend.yaml's systemd.scope.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime, TendConfig } from '../model/types.js';

export interface Host {
  platform: string;
  env: NodeJS.ProcessEnv;
  uid?: number;
  /** File probe (tests give their own). */
  exists?: (path: string) => boolean;
}

/** The file whose presence says the scope's systemd manager runs. */
export function systemdProbePath(scope: 'system' | 'user', host: Pick<Host, 'env' | 'uid'>): string {
  if (scope === 'system') return '/run/systemd/system';
  const runtimeDir = host.env.XDG_RUNTIME_DIR || `/run/user/${host.uid ?? process.getuid?.() ?? 0}`;
  return join(runtimeDir, 'systemd', 'private');
}

export function autoRuntime(config: Pick<TendConfig, 'systemd'>, host: Host): Runtime {
  if (host.platform === 'darwin') return 'launchd';
  const exists = host.exists ?? existsSync;
  return exists(systemdProbePath(config.systemd.scope, host)) ? 'systemd' : 'tmux';
}
