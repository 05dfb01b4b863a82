// How a build's processes are contained: a PID namespace of their own (Linux), or, where refused, the build's process group.
import { execa } from 'execa';

/**
 * `pid-namespace`: the build runs as PID 1 of a new PID namespace (util-linux `unshare --pid --fork --kill-child`);
 * when it ends, or its unshare is killed, the kernel kills every process left in the namespace, `setsid` daemons
 * and double forks included. `setpriv --pdeathsig KILL` in front, when it works, also ends it if tend is SIGKILLed.
 * `process-group`: the old fallback, a kill of the build's process group, which a `setsid` daemon escapes.
 */
export type Containment =
  | { kind: 'pid-namespace'; wrapper: readonly string[] }
  | { kind: 'process-group'; reason: string };

const NAMESPACE = ['--pid', '--fork', '--kill-child'];

/** Wrappers to try, best first: as root a PID namespace; otherwise inside a user namespace mapping the user to itself. */
export function containmentWrappers(uid: number): string[][] {
  const unshare = ['unshare', ...(uid === 0 ? [] : ['--user', '--map-current-user']), ...NAMESPACE, '--'];
  return [['setpriv', '--pdeathsig', 'KILL', '--', ...unshare], unshare];
}

/** The warning written to build.log and the build's output when the build runs uncontained. */
export function containmentWarning(c: Extract<Containment, { kind: 'process-group' }>): string {
  return `build processes are not contained (${c.reason}): only the build's process group is killed when it ends, ` +
    'so a daemon it detaches (setsid) can outlive it; see docs/troubleshooting.md "Build containment"';
}

const PROBE_TIMEOUT_MS = 10_000;

/** Runs `true` under each wrapper and keeps the first that works; the last refusal is the reason for the fallback. */
export async function probeContainment(platform: NodeJS.Platform = process.platform, uid = process.getuid?.() ?? -1): Promise<Containment> {
  if (platform !== 'linux') return { kind: 'process-group', reason: `PID namespaces are Linux-only, this is ${platform}` };
  let reason = 'unshare is not available';
  for (const wrapper of containmentWrappers(uid)) {
    const r = await execa(wrapper[0]!, [...wrapper.slice(1), 'true'], { reject: false, stdin: 'ignore', timeout: PROBE_TIMEOUT_MS });
    if (r.exitCode === 0) return { kind: 'pid-namespace', wrapper };
    // setpriv missing (or too old for --pdeathsig) is no reason to give up: the next wrapper goes without it.
    if (wrapper[0] !== 'unshare') continue;
    const missing = (r as { code?: string }).code === 'ENOENT';
    reason = missing ? 'unshare is not installed (util-linux)' : String(r.stderr).trim().split('\n').at(-1) || `unshare failed (exit ${r.exitCode})`;
  }
  return { kind: 'process-group', reason };
}

let cached: Promise<Containment> | undefined;

/** The containment for this process's builds, probed once. */
export function buildContainment(): Promise<Containment> {
  cached ??= probeContainment();
  return cached;
}
