// What an instance's process is launched with: argv (placeholders substituted), cwd, env and log file.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Action } from '../../model/types.js';
import { parseEnvFile } from '../../observe/instances.js';
import { canonicalJson, sha256 } from '../../planner/hash.js';
import { targetName } from '../../spec/names.js';
import type { ApplyContext } from '../types.js';

export interface Launch {
  session: string;
  instance: string;
  version: string;
  /** The instance directory: the process's working directory. */
  cwd: string;
  logFile: string;
  argv: string[];
  /** TEND_* values, the spec's env and the instance .env values: never print these. */
  env: Record<string, string>;
  /** The values of the spec's env and of .env, to keep out of error messages. */
  secrets: string[];
  /** sha256 of argv, cwd, env and the release commit: equal digests launch the same process. */
  digest: string;
}

/** `${port}` and friends in one argument; unknown names stay as written (the loader rejects them). */
export function substitute(arg: string, values: Record<string, string>): string {
  return arg.replace(/\$\{([A-Za-z]+)\}/g, (whole, key: string) => values[key] ?? whole);
}

function readEnvFile(file: string): Map<string, string> {
  try {
    return parseEnvFile(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function instanceDirOf(ctx: Pick<ApplyContext, 'paths'>, instance: string): string {
  return join(ctx.paths.instances, instance);
}

export function logFileOf(ctx: Pick<ApplyContext, 'paths'>, instance: string): string {
  return join(instanceDirOf(ctx, instance), 'logs', `${instance}.log`);
}

/** Everything create-session needs; throws when the action lacks its spec or release. */
export function launchFor(action: Action, ctx: ApplyContext): Launch {
  const { spec, release, config } = ctx;
  const instance = action.instance ?? spec?.name;
  if (!spec || !release || instance === undefined) {
    throw new Error(`create-session ${action.target ?? instance ?? ''} needs the instance's spec and release`);
  }
  if (config.source.run.artifact === '') throw new Error('source.run.artifact is not set in tend.yaml: nothing to run');
  const cwd = instanceDirOf(ctx, instance);
  const version = action.version ?? release.version;
  const configPath = join(cwd, 'config.yaml');
  const values: Record<string, string> = {
    port: String(spec.port), address: spec.address, name: instance, version, instanceDir: cwd, configPath,
  };
  const artifact = resolve(release.dir, config.source.run.artifact);
  let argv = [artifact, ...config.source.run.args.map((a) => substitute(a, values))];
  if (argv.length === 1) {
    // tmux runs a lone argument through `sh -c`; with two or more it execs them directly.
    if (artifact.includes('=')) throw new Error(`cannot run ${artifact} without arguments: its path contains '='`);
    argv = ['/usr/bin/env', artifact];
  }
  const own = { ...spec.env, ...Object.fromEntries(readEnvFile(join(cwd, '.env'))) };
  const env: Record<string, string> = {
    ...own,
    TEND_PORT: values.port!,
    TEND_ADDRESS: spec.address,
    TEND_INSTANCE: instance,
    TEND_VERSION: version,
    TEND_INSTANCE_DIR: cwd,
    TEND_CONFIG: configPath,
  };
  const digest = sha256(canonicalJson({ argv, cwd, env, commit: release.commit }));
  return {
    session: action.target ?? targetName('tmux', config, instance),
    instance, version, cwd, logFile: logFileOf(ctx, instance), argv, env, secrets: Object.values(own), digest,
  };
}
