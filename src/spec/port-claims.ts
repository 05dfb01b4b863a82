// Which desired file may have a port two files (or a file and a running instance) want: the instance that holds it wins.
import type { AppliedSpec } from '../model/types.js';

/** A port one desired file declares (valid files only). */
export interface PortClaim {
  name: string;
  file: string;
  port: number;
  address: string;
}

/** An instance of desired/ and its last applied spec (status.json `applied`: seen healthy), if any. */
export interface PortHolderCandidate {
  name: string;
  file: string;
  /** Whether its desired file is valid (an invalid one declares nothing, but what it runs keeps running). */
  valid: boolean;
  applied?: Pick<AppliedSpec['spec'], 'port' | 'address' | 'state'>;
}

/** A claim that loses its port: to `holder`, or (`holder` unset) to a clash with `others` that no one holds. */
export interface PortProblem {
  claim: PortClaim;
  message: string;
}

const wildcard = (a: string) => a === '0.0.0.0' || a === '::';
const overlaps = (a: { port: number; address: string }, b: { port: number; address: string }) =>
  a.port === b.port && (a.address === b.address || wildcard(a.address) || wildcard(b.address));

/**
 * Port clashes between valid desired files, decided by who holds the port. An instance holds a port when
 * its last applied spec listens there (status.json `applied`; the spec it runs, or last ran healthy):
 * - Two files want the same port and exactly one of them holds it: the other file is the one in error
 *   (it introduced the conflict); the holder keeps converging.
 * - Two files want it and neither (or both) holds it: both are in error (nothing decides between them).
 * - An instance runs (applied, `state: running`) on a port its file no longer declares (its file has
 *   errors, or moves it elsewhere and that is not applied yet, or was rolled back): another file that
 *   wants that port is in error until the port is free.
 * Pure: `candidates` carries what was read of status.json.
 */
export function portProblems(claims: readonly PortClaim[], candidates: readonly PortHolderCandidate[]): PortProblem[] {
  const byName = new Map(candidates.map((c) => [c.name, c]));
  const appliedOf = (name: string) => byName.get(name)?.applied;
  const holds = (name: string, at: PortClaim) => {
    const a = appliedOf(name);
    return a !== undefined && overlaps(a, at);
  };
  const out: PortProblem[] = [];
  const lost = new Set<PortClaim>();
  const clashes = new Map<PortClaim, string[]>();
  for (const a of claims) {
    for (const b of claims) {
      if (a === b || a.name === b.name || !overlaps(a, b)) continue;
      const aHolds = holds(a.name, b);
      const bHolds = holds(b.name, a);
      if (bHolds && !aHolds) {
        if (!lost.has(a)) out.push({ claim: a, message: heldMessage(a, byName.get(b.name)!, true) });
        lost.add(a);
      } else if (aHolds === bHolds) {
        clashes.set(a, [...(clashes.get(a) ?? []), b.file]);
      }
    }
  }
  for (const [claim, files] of clashes) {
    if (!lost.has(claim)) out.push({ claim, message: `port ${claim.port} is also used by ${files.join(', ')}` });
  }
  // Running on a port its file does not declare (any more): nobody else takes it meanwhile.
  for (const h of candidates) {
    const a = h.applied;
    if (!a || a.state !== 'running') continue;
    const own = claims.find((c) => c.name === h.name);
    if (own && overlaps(own, a)) continue;
    for (const c of claims) {
      if (c.name === h.name || lost.has(c) || !overlaps(c, a) || holds(c.name, c)) continue;
      out.push({ claim: c, message: heldMessage(c, h, false, own) });
      lost.add(c);
    }
  }
  return out;
}

function heldMessage(claim: PortClaim, holder: PortHolderCandidate, declared: boolean, own?: PortClaim): string {
  const running = holder.applied?.state === 'running';
  const why = !holder.valid ? `it runs there (${holder.file} has errors)`
    : declared ? (running ? 'it runs there' : 'its last applied spec uses it')
      : `it runs there until the change of ${holder.file}${own ? ` to port ${own.port}` : ''} is applied`;
  return `port ${claim.port} is held by instance ${holder.name} (${holder.file}): ${why}; choose another port for ${claim.name}`;
}
