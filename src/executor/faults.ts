// Fault injection for crash-safety tests: TEND_FAULT=crash-after:<action>:<n> kills this process with
// SIGKILL right after the n-th (1-based) completed action matching <action> (an action type such as
// `start`, or a full action id such as `web/start@systemd`). TEND_FAULT=pause-before:<action>:<n> and
// pause-after:<action>:<n> stop the work there instead (before the n-th matching action starts, or after
// it completes) until the run is cancelled (the agent's cancel when a desired file changes) or the process
// is killed: an interrupted update, staged at a known point. Off unless the variable is set.

/* eslint-disable no-restricted-properties -- a test-only switch: its line must reach stderr before SIGKILL or a pause */

export interface FaultSwitch {
  /** Called after every completed action; never returns when the fault fires (a pause resolves only by throwing when `signal` aborts). */
  afterAction(action: { id: string; type: string }, signal?: AbortSignal): void | Promise<void>;
  /** Called before every action starts (pause-before). */
  beforeAction?(action: { id: string; type: string }, signal?: AbortSignal): void | Promise<void>;
}

type Fault = { kind: 'crash-after' | 'pause-before' | 'pause-after'; match: string; n: number };

export function parseFault(value: string | undefined): Fault | undefined {
  if (!value) return undefined;
  const m = /^(crash-after|pause-before|pause-after):(.+):(\d+)$/.exec(value.trim());
  if (!m || Number(m[3]) < 1) throw new Error(`TEND_FAULT must be crash-after|pause-before|pause-after:<action type or id>:<n>, got '${value}'`);
  return { kind: m[1] as Fault['kind'], match: m[2]!, n: Number(m[3]) };
}

/** A pause fires once per process: the work that follows the cancel (a new reconcile in the agent) is not paused again. */
let pausedOnce = false;

/** Waits until `signal` aborts (then throws its reason); without a signal, until the process is killed. */
function pause(signal: AbortSignal | undefined): Promise<never> {
  return new Promise<never>((_, reject) => {
    // A timer keeps the event loop (and so the process) alive while paused.
    const timer = setInterval(() => undefined, 60_000);
    signal?.addEventListener('abort', () => {
      clearInterval(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    }, { once: true });
  });
}

export function faultSwitch(env: NodeJS.ProcessEnv = process.env): FaultSwitch {
  const fault = parseFault(env.TEND_FAULT);
  if (!fault) return { afterAction: () => undefined };
  let seen = 0;
  const fires = (action: { id: string; type: string }) => {
    if (action.type !== fault.match && action.id !== fault.match) return false;
    seen++;
    if (seen !== fault.n || (fault.kind !== 'crash-after' && pausedOnce)) return false;
    if (fault.kind !== 'crash-after') pausedOnce = true;
    return true;
  };
  if (fault.kind === 'pause-before') {
    return {
      afterAction: () => undefined,
      beforeAction(action, signal) {
        if (!fires(action)) return undefined;
        process.stderr.write(`TEND_FAULT: pausing before ${action.id}\n`);
        return pause(signal);
      },
    };
  }
  return {
    afterAction(action, signal) {
      if (!fires(action)) return undefined;
      if (fault.kind === 'pause-after') {
        process.stderr.write(`TEND_FAULT: pausing after ${action.id}\n`);
        return pause(signal);
      }
      process.stderr.write(`TEND_FAULT: crashing after ${action.id}\n`);
      process.kill(process.pid, 'SIGKILL');
      return undefined;
    },
  };
}
