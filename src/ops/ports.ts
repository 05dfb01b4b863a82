// Ports for new instances: declared by a desired file, or taken on the host (something listens).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import type { DesiredState } from '../model/types.js';

export const FIRST_PORT = 8081;

/** Whether a TCP listener can bind `address:port` right now (it is closed again at once). */
export function canBind(port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: address }, () => server.close(() => resolve(true)));
  });
}

/** Nothing on the host listens on `port` at 127.0.0.1 nor at `address` (the instance's own). */
export async function portFreeOnHost(port: number, address = '127.0.0.1'): Promise<boolean> {
  const hosts = [...new Set(['127.0.0.1', address === '::' || address === '0.0.0.0' ? '0.0.0.0' : address])];
  for (const host of hosts) if (!(await canBind(port, host))) return false;
  return true;
}

/**
 * Ports desired files declare, with the file: valid entries' merged ports, and the `port:` of files
 * that do not validate (they may be fixed later and still want it).
 */
export function declaredPorts(desired: DesiredState, root: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of desired.entries) {
    if (e.status === 'valid') {
      out.set(e.spec.port, e.file);
      continue;
    }
    try {
      const raw = parse(readFileSync(isAbsolute(e.file) ? e.file : join(root, e.file), 'utf8')) as { port?: unknown } | null;
      if (typeof raw?.port === 'number') out.set(raw.port, e.file);
    } catch { /* unreadable: it claims nothing we can see */ }
  }
  return out;
}

/** Why `port` cannot be given to a new instance (`Port 8081 already in use...`), or undefined. */
export async function portProblem(port: number, address: string, declared: ReadonlyMap<number, string>): Promise<string | undefined> {
  const by = declared.get(port);
  if (by !== undefined) return `Port ${port} already in use (declared by ${by})`;
  if (!(await portFreeOnHost(port, address))) return `Port ${port} already in use`;
  return undefined;
}

/** The first port from `from` (8081) that no desired file declares and nothing listens on. */
export async function firstFreePort(declared: ReadonlyMap<number, string>, address = '127.0.0.1', from = FIRST_PORT): Promise<number> {
  for (let port = from; port <= 65535; port++) {
    if (declared.has(port)) continue;
    if (await portFreeOnHost(port, address)) return port;
  }
  throw new Error(`no free port from ${from} up`);
}
