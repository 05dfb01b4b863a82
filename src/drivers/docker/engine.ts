// The Docker Engine connection (dockerode, loaded on first use), container listings, and secret-free errors.
import type Docker from 'dockerode';
import type { ContainerSummary } from './discovery.js';
import { errorMessage } from '../../shared/errors.js';

export interface EngineOptions {
  /** The Engine's unix socket; default: DOCKER_HOST, else /var/run/docker.sock (dockerode's rules). */
  socketPath?: string;
}

export async function connect(opts: EngineOptions = {}): Promise<Docker> {
  const { default: DockerClass } = await import('dockerode');
  return opts.socketPath !== undefined ? new DockerClass({ socketPath: opts.socketPath }) : new DockerClass();
}

/** The HTTP status of an Engine error (404 no such container, 304 already stopped, 409 conflict). */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Replaces every secret value (3 characters or more) in `text` by `***`. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) if (s.length >= 3) out = out.split(s).join('***');
  return out;
}

/** An Engine error as one line, secrets removed. */
export function engineMessage(err: unknown, secrets: readonly string[] = []): string {
  const raw = errorMessage(err);
  return redact(raw.replace(/\s+/g, ' ').trim(), secrets);
}

/** dockerode's container list entry as the fields tend reads. */
export function toSummary(c: Docker.ContainerInfo): ContainerSummary {
  const name = (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
  return {
    id: c.Id,
    name,
    image: c.Image ?? '',
    imageId: c.ImageID ?? '',
    labels: c.Labels ?? {},
    state: c.State ?? '',
    status: c.Status ?? '',
    ...(typeof c.Created === 'number' ? { created: c.Created } : {}),
    ports: (c.Ports ?? []).map((p) => ({
      privatePort: p.PrivatePort, type: p.Type,
      ...(p.IP !== undefined ? { ip: p.IP } : {}),
      ...(p.PublicPort !== undefined ? { publicPort: p.PublicPort } : {}),
    })),
    networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
  };
}

/** One container list call (every state), as summaries. */
export async function listContainers(docker: Docker, filters?: Record<string, string[]>): Promise<ContainerSummary[]> {
  const list = await docker.listContainers({ all: true, ...(filters ? { filters } : {}) });
  return list.map(toSummary);
}

/** A regular expression matching `text` literally (Engine name filters are regular expressions). */
export function literalRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
