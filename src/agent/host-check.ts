// Which Host headers the status server answers (no DNS rebinding), whether its address reaches beyond this host, and listen errors.
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { TendError } from '../shared/errors.js';

/** Names every loopback client may use; a Host header must be one of these or the bound address, with the port. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'] as const;

/** `::1` -> `[::1]`; names and IPv4 as they are, lowercased. */
export function hostForm(address: string): string {
  const a = address.toLowerCase();
  return isIP(a) === 6 ? `[${a}]` : a;
}

export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '';
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) or `localhost`. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '').replace(/^::ffff:/, '');
  return a === 'localhost' || a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

/** Addresses of this host's interfaces, in Host form (what a client reaching a wildcard bind by address sends). */
function interfaceHosts(): string[] {
  return Object.values(networkInterfaces()).flat().flatMap((i) => (i && !i.address.includes('%') ? [hostForm(i.address)] : []));
}

export interface HostCheck {
  /** Whether a request with this Host header (undefined: none) may be answered. */
  allows(host: string | undefined): boolean;
  /** `127.0.0.1:9464`: the Host the server names in a refusal. */
  primary: string;
}

/**
 * The Host check of a server listening on `listenHost` (as configured), bound to `bound` (the address the
 * socket got) on `port`: the configured name, the bound address, and the loopback names, each with the port
 * (port 80 also without). A wildcard bind (0.0.0.0, ::) also answers this host's interface addresses:
 * a DNS rebinding attack always sends a name, never one of these.
 */
export function hostCheck(listenHost: string, bound: string, port: number): HostCheck {
  const fixed = new Set([hostForm(listenHost), hostForm(bound), ...LOOPBACK_HOSTS]);
  const wildcard = isWildcard(bound);
  const withPort = (h: string) => (port === 80 ? [`${h}:80`, h] : [`${h}:${port}`]);
  const fixedHosts = new Set([...fixed].flatMap(withPort));
  return {
    primary: `${hostForm(isWildcard(listenHost) ? '127.0.0.1' : listenHost)}:${port}`,
    allows(host) {
      if (host === undefined) return false;
      const h = host.trim().toLowerCase();
      if (fixedHosts.has(h)) return true;
      return wildcard && interfaceHosts().some((i) => withPort(i).includes(h));
    },
  };
}

/** The warning printed at start when the server is reachable from other hosts; undefined on loopback. */
export function exposureWarning(listenHost: string, port: number): string | undefined {
  if (isLoopback(listenHost)) return undefined;
  return `status server on ${hostForm(listenHost)}:${port} is reachable from other hosts: /status, /metrics and / show ` +
    'instance names, versions, phases, messages and metrics to anyone who can connect (no secrets); ' +
    'bind 127.0.0.1 (agent.listen, --listen) unless that is meant, or firewall the port';
}

/** A status server that could not listen: one line for the operator, no stack. */
export class ListenError extends TendError {
  constructor(readonly listen: string, readonly code: string | undefined, message: string, cause?: unknown) {
    // The operator's to fix (another process holds the address, or agent.listen is wrong).
    super(message, { kind: 'user', ...(cause !== undefined ? { cause } : {}) });
  }
}

/** `cannot listen on 127.0.0.1:9464: address already in use (another tend agent?)` and friends. */
export function listenError(listen: string, err: unknown): ListenError {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const why = code === 'EADDRINUSE' ? 'address already in use (another tend agent?)'
    : code === 'EADDRNOTAVAIL' ? 'no interface of this host has that address (EADDRNOTAVAIL)'
      : code === 'EACCES' ? 'permission denied (EACCES; ports below 1024 need privileges)'
        : code === 'ENOTFOUND' ? 'the host name does not resolve (ENOTFOUND)'
          : `${(typeof e?.errno === 'number' ? getSystemErrorMap().get(e.errno)?.[1] : undefined) ?? e?.message ?? String(err)}${code ? ` (${code})` : ''}`;
  return new ListenError(listen, code, `cannot listen on ${listen}: ${why}`, err);
}
