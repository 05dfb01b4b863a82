// What an instance's process is launched with, for every driver: argv (placeholders substituted),
// working directory, plain env, the instance .env, and the log file.
import { readOwnFile, UnsafeFileError } from '../fs/safe.js';
import { join, resolve } from 'node:path';
import type { EnvProblem } from '../model/types.js';
import type { RuntimeAction } from '../model/plan.js';
import { parseEnvFile } from '../shared/env-parse.js';
import { canonicalJson, sha256 } from '../shared/hash.js';
import type { ApplyContext } from './types.js';

export interface LaunchSpec {
  instance: string;
  version: string;
  /** The instance directory: the process's working directory and its data. */
  cwd: string;
  /** instances/<name>/.env (may not exist). */
  envFile: string;
  /** instances/<name>/logs/<name>.log: stdout and stderr, appended. */
  logFile: string;
  /** The release's executable (absolute) and its args with `${port}` and friends substituted. */
  argv: string[];
  /** The spec's env plus TEND_* values (never the .env values). */
  plainEnv: Record<string, string>;
  /** The instance .env's values: secrets. */
  fileEnv: Record<string, string>;
  /** plainEnv and fileEnv together, as the process sees them (fileEnv wins, then TEND_*). */
  env: Record<string, string>;
  /** Every env value from the spec and .env, to keep out of error messages and logs. */
  secrets: string[];
  /** The values `${...}` placeholders stand for. */
  values: Record<string, string>;
  /** sha256 of argv, cwd, env and the release commit: equal digests launch the same process. */
  digest: string;
}

/** `${port}` and friends in one argument; unknown names stay as written (the loader rejects them). */
export function substitute(arg: string, values: Record<string, string>): string {
  return arg.replace(/\$\{([A-Za-z]+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/**
 * An instance .env as a map; a missing file is empty; a link or special file is refused. Throws on a
 * line systemd would read differently (the planner refuses those first). Errors name the file and
 * line but never its content.
 */
export function readEnvFile(file: string): Map<string, string> {
  let text: string | undefined;
  try {
    text = readOwnFile(file);
  } catch (err) {
    if (err instanceof UnsafeFileError) throw err;
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const problems: EnvProblem[] = [];
  const env = parseEnvFile(text ?? '', problems);
  if (problems[0]) throw new Error(`${file}:${problems[0].line}:${problems[0].col}: ${problems[0].message}`);
  return env;
}

export function instanceDirOf(ctx: Pick<ApplyContext, 'paths'>, instance: string): string {
  return join(ctx.paths.instances, instance);
}

export function logFileOf(ctx: Pick<ApplyContext, 'paths'>, instance: string): string {
  return join(instanceDirOf(ctx, instance), 'logs', `${instance}.log`);
}

/** Everything a driver needs to launch the action's instance; throws when the action lacks its spec or release. */
export function launchSpec(action: RuntimeAction, ctx: ApplyContext): LaunchSpec {
  const { spec, release, config } = ctx;
  const instance = action.instance ?? spec?.name;
  if (!spec || !release || instance === undefined) {
    throw new Error(`${action.type} ${action.target ?? instance ?? ''} needs the instance's spec and release`);
  }
  if (config.source.run.artifact === '') throw new Error('source.run.artifact is not set in tend.yaml: nothing to run');
  const cwd = instanceDirOf(ctx, instance);
  const version = action.version ?? release.version;
  const configPath = join(cwd, 'config.yaml');
  const values: Record<string, string> = {
    port: String(spec.port), address: spec.address, name: instance, version, instanceDir: cwd, configPath,
  };
  const artifact = resolve(release.dir, config.source.run.artifact);
  const argv = [artifact, ...config.source.run.args.map((a) => substitute(a, values))];
  const envFile = join(cwd, '.env');
  const fileEnv = Object.fromEntries(readEnvFile(envFile));
  const tendEnv: Record<string, string> = {
    TEND_PORT: values.port!,
    TEND_ADDRESS: spec.address,
    TEND_INSTANCE: instance,
    TEND_VERSION: version,
    TEND_INSTANCE_DIR: cwd,
    TEND_CONFIG: configPath,
  };
  const plainEnv = { ...spec.env, ...tendEnv };
  const env = { ...spec.env, ...fileEnv, ...tendEnv };
  const digest = sha256(canonicalJson({ argv, cwd, env, commit: release.commit }));
  return {
    instance, version, cwd, envFile, logFile: logFileOf(ctx, instance), argv, plainEnv, fileEnv, env,
    secrets: [...Object.values(spec.env), ...Object.values(fileEnv)], values, digest,
  };
}
