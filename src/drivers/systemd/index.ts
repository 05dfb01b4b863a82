// The systemd driver: units in the system or user manager (tend.yaml systemd.scope), rendered from
// templates/systemd.service, owned through X-Tend-* keys.
import type { Driver } from '../types.js';
import { applySystemd, PendingReload } from './apply.js';
import { observeSystemd } from './observe.js';

export interface SystemdDriver extends Driver {
  /** Enables written units and runs the one daemon-reload a batch of unit changes needs. */
  flush: NonNullable<Driver['flush']>;
}

export function createSystemdDriver(): SystemdDriver {
  const pending = new PendingReload();
  return {
    runtime: 'systemd',
    observe: async (ctx) => {
      const { observation, needReload } = await observeSystemd(ctx);
      // Unit files changed behind systemd's back (or by a tend that died before its reload).
      if (needReload.length > 0) pending.reload = true;
      return observation;
    },
    apply: (action, ctx) => applySystemd(action, ctx, pending),
    flush: (ctx) => pending.flush({ scope: ctx.config.systemd.scope, ...(ctx.signal ? { signal: ctx.signal } : {}) }),
  };
}

export const systemdDriver: SystemdDriver = createSystemdDriver();
