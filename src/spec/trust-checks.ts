// Validation of what apply would refuse for trust reasons: a health command outside the release, a volume over tend's own files.
import { posix } from 'node:path';
import type { InstanceSpec } from '../model/types.js';

/** tend's own entries of an instance directory (see src/state/layout.ts): never mounted into a container. */
const OWN_ENTRIES = ['.env', '.version-history', 'status.json', 'requests.json', 'adopted.json', 'config.yaml', 'logs'];

export interface TrustProblem {
  path: (string | number)[];
  message: string;
}

/** Problems with key paths for file:line:col; empty when the spec is fine. */
export function trustProblems(spec: Pick<InstanceSpec, 'health' | 'docker'>): TrustProblem[] {
  const out: TrustProblem[] = [];
  const cmd = spec.health.exec?.[0];
  if (cmd !== undefined && cmd.includes('/') && !cmd.startsWith('/') && posix.normalize(cmd).startsWith('../')) {
    out.push({
      path: ['health', 'exec', 0],
      message: `health.exec ${cmd} climbs out of the release directory: a relative command names a file of the release (releases/<version>/...), never one an instance can write`,
    });
  }
  (spec.docker?.volumes ?? []).forEach((v, i) => {
    const source = v.split(':')[0]!;
    if (source.startsWith('/') || !(source.startsWith('.') || source.includes('/'))) return;
    const rel = posix.normalize(source);
    const first = rel.split('/')[0]!;
    if (rel === '.' || rel === './' || first === '..' || OWN_ENTRIES.includes(first)) {
      out.push({
        path: ['docker', 'volumes', i],
        message: `docker.volumes ${v}: ${source} is (or holds) tend's own part of the instance directory; mount data/, projects/ or a folder of the app's own`,
      });
    }
  });
  return out;
}
