// Finds the containers that look like instances (one Engine list call) and joins them with the adoption records.
import type { TendConfig } from '../model/types.js';
import { connect, listContainers, type EngineOptions } from '../drivers/docker/engine.js';
import { stateOf } from '../drivers/docker/observe.js';
import {
  customNetwork, discoveryReason, exitCodeFromStatus, instanceNameFor, publishedPort, type ContainerSummary,
} from '../drivers/docker/discovery.js';
import { activeRecords, readAdoptionRecords, type AdoptionRecord } from '../state/adopted.js';

export interface FoundContainer {
  name: string;
  id: string;
  image: string;
  /** running | stopped | failed; an adopted container that is gone is `stopped`. */
  state: 'running' | 'stopped' | 'failed';
  network?: string;
  /** The instance it was adopted as, or the name it would get (before conflicts are settled). */
  instance?: string;
  /** Why its name cannot be an instance name (it cannot be adopted until that is fixed). */
  problem?: string;
  adopted: boolean;
  /** Adopted, and the container no longer exists (kept until `--cleanup-stopped`). */
  gone: boolean;
  /** What made it a candidate: `label cc-bridge.instance=web`, `image cc-bridge:*`, or `adopted`. */
  reason: string;
  summary?: ContainerSummary;
  record?: AdoptionRecord;
}

export interface Discovery {
  /** Whether new candidates were looked for (tend.yaml docker.discovery.enabled and no --skip-discovery). */
  scanned: boolean;
  containers: FoundContainer[];
}

export interface DiscoverOptions {
  config: TendConfig;
  instancesDir: string;
  /** Look for new candidates; false lists adopted containers only. */
  scan: boolean;
  engine?: EngineOptions;
}

function found(c: ContainerSummary, reason: string, label: string, record?: AdoptionRecord): FoundContainer {
  const network = customNetwork(c) ?? c.networks[0];
  const base = {
    name: c.name, id: c.id, image: c.image,
    state: stateOf(c.state, c.state === 'exited' ? exitCodeFromStatus(c.status) : undefined) as FoundContainer['state'],
    ...(network !== undefined ? { network } : {}),
    adopted: record !== undefined, gone: false, reason, summary: c,
  };
  if (record) return { ...base, instance: record.instance, record };
  const choice = instanceNameFor(c, label);
  return 'name' in choice ? { ...base, instance: choice.name } : { ...base, problem: choice.problem };
}

/** Adopted containers (present or gone) and, when scanning, every other container that looks like an instance; sorted by name. */
export async function discover(opts: DiscoverOptions): Promise<Discovery> {
  const rules = opts.config.docker.discovery;
  const records = activeRecords(readAdoptionRecords(opts.instancesDir));
  const containers = opts.scan || records.length > 0 ? await listContainers(await connect(opts.engine)) : [];
  const out: FoundContainer[] = [];
  for (const c of containers) {
    const record = records.find((r) => r.containerId === c.id);
    if (record) {
      out.push(found(c, 'adopted', rules.label, record));
      continue;
    }
    const reason = opts.scan ? discoveryReason(c, rules) : undefined;
    if (reason) out.push(found(c, reason, rules.label));
  }
  for (const r of records) {
    if (containers.some((c) => c.id === r.containerId)) continue;
    out.push({ name: r.container, id: r.containerId, image: r.image, state: 'stopped', instance: r.instance, adopted: true, gone: true, reason: 'adopted', record: r });
  }
  out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return { scanned: opts.scan, containers: out };
}

/**
 * The Engine lists published ports of running containers only; for candidates that show none (a
 * stopped container), read the port bindings they were created with (one inspect each, --adopt only).
 */
export async function withConfiguredPorts(d: Discovery, engine?: EngineOptions): Promise<void> {
  const lacking = d.containers.filter((c) => !c.adopted && c.summary && !publishedPort(c.summary));
  if (lacking.length === 0) return;
  const docker = await connect(engine);
  for (const c of lacking) {
    const info = await docker.getContainer(c.id).inspect().catch(() => undefined);
    const bindings = info?.HostConfig.PortBindings as Record<string, { HostIp?: string; HostPort?: string }[] | null> | undefined;
    const ports: ContainerSummary['ports'] = [];
    for (const [key, list] of Object.entries(bindings ?? {})) {
      const [port, type] = key.split('/');
      for (const b of list ?? []) {
        const hostPort = Number(b.HostPort);
        if (!Number.isInteger(hostPort) || hostPort <= 0) continue;
        ports.push({ privatePort: Number(port), publicPort: hostPort, type: type ?? 'tcp', ...(b.HostIp ? { ip: b.HostIp } : {}) });
      }
    }
    c.summary = { ...c.summary!, ports };
  }
}
