// Docker helpers for tests: an Engine client, unique names, cleanup by label, a busybox image and a request-counting proxy.
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, copyFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import Docker from 'dockerode';
import { execa } from 'execa';
import { dockerSocketPath } from './backends.js';

export function engine(): Docker {
  return new Docker({ socketPath: dockerSocketPath() });
}

/** `<prefix><pid>x<hex>`: a lowercase name no other test run picks. */
export function uniqueName(prefix: string): string {
  return `${prefix}${process.pid}x${randomBytes(3).toString('hex')}`;
}

/** Force-removes one container; gone already is fine, any other failure throws (a clean-up must not hide a leak). */
async function removeContainer(docker: Docker, ref: string): Promise<void> {
  try {
    await docker.getContainer(ref).remove({ force: true });
  } catch (e) {
    const code = (e as { statusCode?: number }).statusCode;
    // 404: no such container; 409 "removal already in progress": someone else is removing it.
    if (code === 404 || (code === 409 && /already in progress/.test((e as Error).message))) return;
    throw new Error(`test clean-up: could not remove container ${ref}: ${(e as Error).message}`);
  }
}

/** Force-removes every container carrying one of these `key=value` labels (never others). */
export async function removeContainersLabelled(docker: Docker, labels: string[]): Promise<void> {
  for (const label of labels) {
    const list = await docker.listContainers({ all: true, filters: { label: [label] } });
    await Promise.all(list.map((c) => removeContainer(docker, c.Id)));
  }
}

/** Force-removes these containers by name or id when they exist. */
export async function removeContainers(docker: Docker, names: string[]): Promise<void> {
  await Promise.all(names.map((n) => removeContainer(docker, n)));
}

/** Removes these images (ids or names), ignoring ones already gone. */
export async function removeImages(docker: Docker, refs: string[]): Promise<void> {
  for (const ref of refs) await docker.getImage(ref).remove({ force: true }).catch(() => undefined);
}

/** A tiny image (static busybox only: `sleep`, `sh`) made with `docker import`; returns its name. */
export async function busyboxImage(dir: string, name: string): Promise<string> {
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(process.env.BUSYBOX ?? '/bin/busybox', join(root, 'bin', 'busybox'));
  for (const applet of ['sh', 'sleep']) symlinkSync('busybox', join(root, 'bin', applet));
  await execa('tar', ['-C', root, '-cf', join(dir, 'rootfs.tar'), '.']);
  await execa('docker', ['import', join(dir, 'rootfs.tar'), name], { env: { DOCKER_HOST: `unix://${dockerSocketPath()}` } });
  rmSync(root, { recursive: true, force: true });
  return name;
}

/** A container running `sleep` (under sh, which exits on SIGTERM) in `image`, created and started; returns its id. */
export async function sleeper(
  docker: Docker,
  image: string,
  opts: {
    name: string; labels?: Record<string, string>; publish?: { hostPort: number; containerPort: number }; network?: string; start?: boolean;
  },
): Promise<string> {
  const port = opts.publish ? `${opts.publish.containerPort}/tcp` : undefined;
  const c = await docker.createContainer({
    name: opts.name,
    Image: image,
    // sh as PID 1 with a TERM trap: `docker stop` ends it at once instead of waiting for the kill.
    Entrypoint: ['/bin/sh', '-c', 'trap "exit 0" TERM; sleep 300 & wait'],
    Labels: opts.labels ?? {},
    ...(port ? { ExposedPorts: { [port]: {} } } : {}),
    HostConfig: {
      ...(port ? { PortBindings: { [port]: [{ HostIp: '127.0.0.1', HostPort: String(opts.publish!.hostPort) }] } } : {}),
      ...(opts.network ? { NetworkMode: opts.network } : {}),
    },
  });
  if (opts.start !== false) await c.start();
  return c.id;
}

export interface CountingProxy {
  socketPath: string;
  /** `METHOD /path` of every request since the last reset, API version prefix and query removed. */
  requests: string[];
  reset(): void;
  close(): Promise<void>;
}

/** A unix-socket HTTP proxy in front of the Engine that records every request it forwards. */
export async function countingProxy(dir: string): Promise<CountingProxy> {
  const socketPath = join(dir, 'engine-proxy.sock');
  const target = dockerSocketPath();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${(req.url ?? '').split('?')[0]!.replace(/^\/v[0-9.]+\//, '/')}`);
    const upstream = request({ socketPath: target, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => res.destroy(err));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    socketPath,
    requests,
    reset: () => void requests.splice(0),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
