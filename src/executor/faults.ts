// Fault injection for crash-safety tests: TEND_FAULT=crash-after:<action>:<n> kills this process with
// SIGKILL right after the n-th (1-based) completed action matching <action> (an action type such as
// `start`, or a full action id such as `web/start@systemd`). Off unless the variable is set.

export interface FaultSwitch {
  /** Called after every completed action; never returns when the fault fires. */
  afterAction(action: { id: string; type: string }): void;
}

export function parseFault(value: string | undefined): { match: string; n: number } | undefined {
  if (!value) return undefined;
  const m = /^crash-after:(.+):(\d+)$/.exec(value.trim());
  if (!m || Number(m[2]) < 1) throw new Error(`TEND_FAULT must be crash-after:<action type or id>:<n>, got '${value}'`);
  return { match: m[1]!, n: Number(m[2]) };
}

export function faultSwitch(env: NodeJS.ProcessEnv = process.env): FaultSwitch {
  const fault = parseFault(env.TEND_FAULT);
  if (!fault) return { afterAction: () => undefined };
  let seen = 0;
  return {
    afterAction(action) {
      if (action.type !== fault.match && action.id !== fault.match) return;
      seen++;
      if (seen === fault.n) {
        // eslint-disable-next-line no-restricted-properties -- a test-only crash switch: the line must reach stderr before SIGKILL
        process.stderr.write(`TEND_FAULT: crashing after ${action.id}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    },
  };
}
