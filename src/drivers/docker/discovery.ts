// Pure rules of discovery: which containers look like instances, and what an adopted one's desired file says.
import { instanceNameProblem, sanitizeName } from '../../spec/names.js';

/** What discovery needs of one container, as the Engine's container list gives it. */
export interface ContainerSummary {
  id: string;
  /** Without the leading '/'. */
  name: string;
  /** The image reference the container was created from (`cc-bridge:v1.2.0`, or an id). */
  image: string;
  imageId: string;
  labels: Record<string, string>;
  /** Docker's state: created, running, paused, restarting, removing, exited, dead. */
  state: string;
  /** Docker's status text, e.g. `Up 2 minutes`, `Exited (137) 5 seconds ago`. */
  status: string;
  /** Creation time, epoch seconds. */
  created?: number;
  ports: { ip?: string; privatePort: number; publicPort?: number; type: string }[];
  networks: string[];
}

export interface DiscoveryRules {
  label: string;
  imagePatterns: readonly string[];
}

/** The label tend stamps on what it creates; a container carrying it is some deployment's, never discovered. */
export const TEND_APP_LABEL = 'tend.app';

/** `docker.io/library/redis:7` and `redis:7` are the same image; patterns are written the short way. */
function shortReference(ref: string): string {
  return ref.replace(/^(docker\.io|index\.docker\.io)\/(library\/)?/, '');
}

/** The repository part of a reference (no tag, no digest). */
export function repositoryOf(ref: string): string {
  const noDigest = ref.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The tag of a reference, when it has one. */
export function tagOf(ref: string): string | undefined {
  const noDigest = ref.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : undefined;
}

function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}

/**
 * `*` matches any run of characters, `?` one. A pattern with a tag is matched against `repo:tag`;
 * one without is matched against the repository alone, so it covers every tag.
 */
export function imageMatches(image: string, pattern: string): boolean {
  const ref = shortReference(image);
  const pat = shortReference(pattern);
  const target = tagOf(pat) !== undefined ? ref : repositoryOf(ref);
  return globToRegExp(pat).test(target);
}

/** Why this container looks like an instance (`label cc-bridge.instance=web`, `image cc-bridge:*`), or undefined. */
export function discoveryReason(c: ContainerSummary, rules: DiscoveryRules): string | undefined {
  if (c.labels[TEND_APP_LABEL] !== undefined) return undefined;
  const value = rules.label === '' ? undefined : c.labels[rules.label];
  if (value !== undefined) return `label ${rules.label}=${value}`;
  const pattern = rules.imagePatterns.find((p) => imageMatches(c.image, p));
  return pattern !== undefined ? `image ${pattern}` : undefined;
}

export type NameChoice = { name: string; from: 'label' | 'container' } | { problem: string };

/** The instance name a discovered container gets: its label's value (exactly), else its sanitized container name. */
export function instanceNameFor(c: ContainerSummary, label: string): NameChoice {
  const value = label === '' ? undefined : c.labels[label];
  if (value !== undefined) {
    const problem = instanceNameProblem(value);
    return problem ? { problem: `label ${label}="${value}" ${problem}` } : { name: value, from: 'label' };
  }
  const name = sanitizeName(c.name);
  const problem = instanceNameProblem(name);
  return problem ? { problem: `container name "${c.name}" gives "${name}", which ${problem}` } : { name, from: 'container' };
}

const VERSION_TAG = /^v?[0-9]+(\.[0-9]+){1,2}([-+][0-9A-Za-z.+-]+)?$/;

/** The desired version of an adopted container: its image tag when that looks like a version, else `latest`. */
export function versionFromImage(image: string): string {
  const tag = tagOf(shortReference(image));
  return tag !== undefined && VERSION_TAG.test(tag) ? tag : 'latest';
}

/** The port a container publishes on the host (TCP, IPv4 binding first), if any. */
export function publishedPort(c: ContainerSummary): { address: string; port: number; containerPort: number } | undefined {
  const published = c.ports.filter((p) => p.type === 'tcp' && p.publicPort !== undefined && p.publicPort > 0);
  const best = published.find((p) => p.ip !== undefined && !p.ip.includes(':')) ?? published[0];
  if (!best) return undefined;
  const ip = best.ip === undefined || best.ip === '' || best.ip === '::' ? '0.0.0.0' : best.ip;
  return { address: ip, port: best.publicPort!, containerPort: best.privatePort };
}

/** A user-defined network the container is on (the default bridge, host and none are not named). */
export function customNetwork(c: ContainerSummary): string | undefined {
  return c.networks.find((n) => !['bridge', 'host', 'none', 'default'].includes(n));
}

/** Docker's `Exited (137) 5 seconds ago` -> 137. */
export function exitCodeFromStatus(status: string): number | undefined {
  const m = /^Exited \((-?[0-9]+)\)/.exec(status);
  return m ? Number(m[1]) : undefined;
}
