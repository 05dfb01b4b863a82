// What a tmux session launches: the shared launch spec, with tmux's one-argument quirk handled.
import type { RuntimeAction } from '../../model/plan.js';
import { targetName } from '../../spec/names.js';
import { launchSpec, type LaunchSpec } from '../launch.js';
import type { ApplyContext } from '../types.js';

export { instanceDirOf, logFileOf } from '../launch.js';

export interface Launch extends LaunchSpec {
  session: string;
}

/** Everything create-session needs; throws when the action lacks its spec or release. */
export function launchFor(action: RuntimeAction, ctx: ApplyContext): Launch {
  const spec = launchSpec(action, ctx);
  let argv = spec.argv;
  if (argv.length === 1) {
    // tmux runs a lone argument through `sh -c`; with two or more it execs them directly.
    if (argv[0]!.includes('=')) throw new Error(`cannot run ${argv[0]} without arguments: its path contains '='`);
    argv = ['/usr/bin/env', argv[0]!];
  }
  return { ...spec, argv, session: action.target ?? targetName('tmux', ctx.config, spec.instance) };
}
