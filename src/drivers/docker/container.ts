// What tend's container for an instance looks like: name, labels, image, env, port binding, mounts, network.
//
// Inside the container the process sees the container's view of the launch values: TEND_PORT and
// `${port}` are the container port (docker.containerPort, default 8080), TEND_ADDRESS and
// `${address}` are 0.0.0.0 (it must accept connections from the published port), and the instance
// directory appears at /instance (TEND_INSTANCE_DIR, `${instanceDir}`) with only the app's parts
// mounted: data/ and projects/ read-write, config.yaml read-only (TEND_CONFIG, `${configPath}`);
// .env, history, status and logs/ stay on the host, out of the container's reach. The host side publishes `address:port` -> the
// container port. `source.run.args` (placeholders substituted that way) become the container's
// command, handed to the image's entrypoint; `source.run.artifact` is not used (the image is the program).
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type Docker from 'dockerode';
import type { TendConfig } from '../../model/types.js';
import type { RuntimeAction } from '../../model/plan.js';
import { canonicalJson, sha256 } from '../../shared/hash.js';
import { targetName } from '../../spec/names.js';
import { APP_DIRS, instanceLayout } from '../../state/layout.js';
import { INSTANCE_LAYOUT } from '../compare-rules.js';
import { launchSpec, substitute } from '../launch.js';
import type { ApplyContext } from '../types.js';

/** Docker labels tend stamps on the containers it creates. */
export const LABEL = {
  app: 'tend.app',
  instance: 'tend.instance',
  version: 'tend.version',
  hash: 'tend.spec-hash',
  /** Digest of the whole create request (image, command, env, ports, mounts, network): no values. */
  config: 'tend.config',
  /** The instance-directory layout the mounts follow (INSTANCE_LAYOUT). */
  layout: 'tend.layout',
} as const;

/** Where the instance directory (instances/<name>/) appears inside the container. */
export const INSTANCE_MOUNT = '/instance';
export const DEFAULT_CONTAINER_PORT = 8080;

export interface ContainerPlan {
  name: string;
  instance: string;
  version: string;
  /** The release's image id. */
  imageId: string;
  /** instances/<name>/ on the host. */
  hostDir: string;
  options: Docker.ContainerCreateOptions;
  /** Env values (spec and .env), to keep out of error messages. */
  secrets: string[];
  /** The tend.config label's value. */
  digest: string;
}

export function containerName(action: RuntimeAction, config: Pick<TendConfig, 'app' | 'launchd'>): string {
  if (action.target) return action.target;
  if (action.instance) return targetName('docker', config, action.instance);
  throw new Error(`${action.type} ${action.id}: no container named (no target or instance)`);
}

/** `SOURCE:/path[:ro|rw]`: an absolute or ./relative SOURCE is a host path (relative to the instance directory), else a named volume. */
export function bindOf(volume: string, hostDir: string): string {
  const [source, ...rest] = volume.split(':');
  const isPath = isAbsolute(source!) || source!.startsWith('.') || source!.includes('/');
  return [isPath ? resolve(hostDir, source!) : source!, ...rest].join(':');
}

/** tend's own entries of an instance directory, never mounted into a container. */
const OWN_ENTRIES = new Set(['.env', '.version-history', 'status.json', 'requests.json', 'adopted.json', 'config.yaml', 'logs']);

/**
 * Why a `docker.volumes` entry may not be mounted, or undefined: its host path may not be (or hold)
 * the instance directory or the instances folder, nor one of tend's own files there; a container
 * that could write those could plant links and files tend (root) reads.
 */
export function volumeProblem(bind: string, hostDir: string, instancesDir: string): string | undefined {
  const source = bind.split(':')[0]!;
  if (!isAbsolute(source)) return undefined; // a named volume
  const within = (outer: string, p: string) => p === outer || p.startsWith(`${outer}${sep}`);
  for (const dir of [resolve(instancesDir), resolve(hostDir)]) {
    if (within(source, dir)) return `docker.volumes ${bind}: ${source} holds ${dir}, which is tend's (mount data/ or projects/ instead)`;
  }
  if (within(resolve(hostDir), source)) {
    const first = relative(resolve(hostDir), source).split(sep)[0]!;
    if (OWN_ENTRIES.has(first)) return `docker.volumes ${bind}: ${first} is tend's own file in the instance directory and is never mounted`;
  }
  return undefined;
}

/** The create request for the action's instance; throws when the action lacks its spec or the release has no image. */
export function containerPlan(action: RuntimeAction, ctx: ApplyContext): ContainerPlan {
  const { spec, release, config } = ctx;
  if (!release?.imageId) {
    throw new Error(`${action.type} ${action.target ?? action.instance ?? ''}: release ${release?.version ?? action.version ?? ''} has no container image (set source.image in tend.yaml and rebuild it)`);
  }
  // The shared launch spec insists on a run artifact; a container runs its image instead, so stand one in.
  const runConfig = config.source.run.artifact === '' ? { ...config, source: { ...config.source, run: { ...config.source.run, artifact: '.' } } } : config;
  const launch = launchSpec(action, { ...ctx, config: runConfig });
  const containerPort = spec!.docker?.containerPort ?? DEFAULT_CONTAINER_PORT;
  const inside: Record<string, string> = {
    port: String(containerPort), address: '0.0.0.0', instanceDir: INSTANCE_MOUNT, configPath: `${INSTANCE_MOUNT}/config.yaml`,
  };
  const values = { ...launch.values, ...inside };
  const env: Record<string, string> = {
    ...launch.env,
    TEND_PORT: inside.port!, TEND_ADDRESS: inside.address!, TEND_INSTANCE_DIR: inside.instanceDir!, TEND_CONFIG: inside.configPath!,
  };
  const cmd = config.source.run.args.map((a) => substitute(a, values));
  const name = containerName(action, config);
  const hostIp = spec!.address === 'localhost' ? '127.0.0.1' : spec!.address;
  const portKey = `${containerPort}/tcp`;
  // Only the app's folders and a read-only config.yaml: the rest of the instance directory (.env,
  // history, status, logs) is tend's, and a container that could write it could plant links there.
  const layout = instanceLayout(ctx.paths.instances, launch.instance);
  const volumes = (spec!.docker?.volumes ?? []).map((v) => bindOf(v, launch.cwd));
  for (const v of volumes) {
    const problem = volumeProblem(v, launch.cwd, ctx.paths.instances);
    if (problem) throw new Error(problem);
  }
  const binds = [
    ...APP_DIRS.map((d) => `${layout[d]}:${INSTANCE_MOUNT}/${d}`),
    `${layout.config}:${INSTANCE_MOUNT}/config.yaml:ro`,
    ...volumes,
  ];
  const network = spec!.docker?.network ?? config.docker.network;
  const request = {
    image: release.imageId, cmd, env, binds, network: network ?? null, port: `${hostIp}:${spec!.port}->${portKey}`,
  };
  const digest = sha256(canonicalJson(request));
  const options: Docker.ContainerCreateOptions = {
    name,
    Image: `${config.app}:${launch.version}`,
    ...(cmd.length > 0 ? { Cmd: cmd } : {}),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: { [portKey]: {} },
    Labels: {
      [LABEL.app]: config.app,
      [LABEL.instance]: launch.instance,
      [LABEL.version]: launch.version,
      [LABEL.hash]: action.specHash ?? '',
      [LABEL.config]: digest,
      [LABEL.layout]: String(INSTANCE_LAYOUT),
    },
    HostConfig: {
      PortBindings: { [portKey]: [{ HostIp: hostIp, HostPort: String(spec!.port) }] },
      Binds: binds,
      RestartPolicy: { Name: 'unless-stopped' },
      ...(network !== undefined ? { NetworkMode: network } : {}),
    },
  };
  return {
    name, instance: launch.instance, version: launch.version, imageId: release.imageId, hostDir: launch.cwd, options,
    secrets: launch.secrets, digest,
  };
}
