// Names of the things tend creates: <app>-<instance>, per runtime.
import type { Runtime, TendConfig } from '../model/types.js';

export function baseName(app: string, instance: string): string {
  return `${app}-${instance}`;
}

/** Unit file, container, session or launchd label for an instance. */
export function targetName(runtime: Runtime, config: Pick<TendConfig, 'app' | 'launchd'>, instance: string): string {
  const base = baseName(config.app, instance);
  switch (runtime) {
    case 'systemd':
      return `${base}.service`;
    case 'launchd':
      return `${config.launchd.labelPrefix}.${base}`;
    case 'docker':
    case 'tmux':
      return base;
    default: {
      const never: never = runtime;
      throw new Error(`unknown runtime ${String(never)}`);
    }
  }
}

export const RUNTIME_NOUN: Record<Runtime, string> = {
  systemd: 'systemd unit',
  launchd: 'launchd job',
  docker: 'container',
  tmux: 'tmux session',
};
