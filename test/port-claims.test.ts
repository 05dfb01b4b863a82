// Issue 14, point 2: a port two desired files want goes to the instance that holds it (its last applied spec
// listens there); the file that introduced the clash is the invalid one. Pure rule table (src/spec/port-claims.ts)
// and the loader on real files (desired/ plus instances/<name>/status.json), as validate, reconcile and the agent load.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../src/model/types.js';
import { portProblems, type PortClaim, type PortHolderCandidate } from '../src/spec/port-claims.js';
import { loadDesired } from '../src/state/desired.js';
import { config } from './helpers/planner-fixtures.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

const claim = (name: string, port: number, address = '127.0.0.1'): PortClaim => ({ name, file: `desired/${name}.yaml`, port, address });
const holder = (name: string, applied?: { port: number; address?: string; state?: 'running' | 'stopped' }, valid = true): PortHolderCandidate => ({
  name, file: `desired/${name}.yaml`, valid,
  ...(applied ? { applied: { port: applied.port, address: applied.address ?? '127.0.0.1', state: applied.state ?? 'running' } } : {}),
});

interface Row {
  name: string;
  claims: PortClaim[];
  candidates: PortHolderCandidate[];
  /** `instance: message` of every problem, in any order. */
  want: string[];
}

const rows: Row[] = [
  {
    name: 'web runs on 8081, a new api.yaml wants 8081: only api is in error, naming web',
    claims: [claim('api', 8081), claim('web', 8081)],
    candidates: [holder('api'), holder('web', { port: 8081 })],
    want: ['api: port 8081 is held by instance web (desired/web.yaml): it runs there; choose another port for api'],
  },
  {
    name: 'the same with the holder first in file order: still only the newcomer',
    claims: [claim('web', 8081), claim('zed', 8081)],
    candidates: [holder('web', { port: 8081 }), holder('zed')],
    want: ['zed: port 8081 is held by instance web (desired/web.yaml): it runs there; choose another port for zed'],
  },
  {
    name: 'neither holds the port (two new files): both are in error, as before',
    claims: [claim('api', 8081), claim('web', 8081)],
    candidates: [holder('api'), holder('web')],
    want: ['api: port 8081 is also used by desired/web.yaml', 'web: port 8081 is also used by desired/api.yaml'],
  },
  {
    name: 'both applied on the port (nothing decides): both are in error',
    claims: [claim('api', 8081), claim('web', 8081)],
    candidates: [holder('api', { port: 8081 }), holder('web', { port: 8081 })],
    want: ['api: port 8081 is also used by desired/web.yaml', 'web: port 8081 is also used by desired/api.yaml'],
  },
  {
    name: 'api was applied on 8082 and its file moves it onto web\'s 8081: api is in error',
    claims: [claim('api', 8081), claim('web', 8081)],
    candidates: [holder('api', { port: 8082 }), holder('web', { port: 8081 })],
    want: ['api: port 8081 is held by instance web (desired/web.yaml): it runs there; choose another port for api'],
  },
  {
    name: 'a stopped holder keeps its port against a newcomer',
    claims: [claim('api', 8081), claim('web', 8081)],
    candidates: [holder('api'), holder('web', { port: 8081, state: 'stopped' })],
    want: ['api: port 8081 is held by instance web (desired/web.yaml): its last applied spec uses it; choose another port for api'],
  },
  {
    name: 'the holder\'s file has errors (it keeps running on 8081): a new file on 8081 is in error',
    claims: [claim('api', 8081)],
    candidates: [holder('api'), holder('web', { port: 8081 }, false)],
    want: ['api: port 8081 is held by instance web (desired/web.yaml): it runs there (desired/web.yaml has errors); choose another port for api'],
  },
  {
    name: 'web runs on 8081 while its file moves it to 8090: api cannot take 8081 until that is applied',
    claims: [claim('api', 8081), claim('web', 8090)],
    candidates: [holder('api'), holder('web', { port: 8081 })],
    want: ['api: port 8081 is held by instance web (desired/web.yaml): it runs there until the change of desired/web.yaml to port 8090 is applied; choose another port for api'],
  },
  {
    name: 'a stopped instance whose file moved away does not hold its old port',
    claims: [claim('api', 8081), claim('web', 8090)],
    candidates: [holder('api'), holder('web', { port: 8081, state: 'stopped' })],
    want: [],
  },
  {
    name: 'a wildcard holder (0.0.0.0) holds the port on every address',
    claims: [claim('api', 8081, '127.0.0.1'), claim('web', 8081, '0.0.0.0')],
    candidates: [holder('api'), holder('web', { port: 8081, address: '0.0.0.0' })],
    want: ['api: port 8081 is held by instance web (desired/web.yaml): it runs there; choose another port for api'],
  },
  {
    name: 'other addresses do not clash',
    claims: [claim('api', 8081, '127.0.0.2'), claim('web', 8081, '127.0.0.1')],
    candidates: [holder('api'), holder('web', { port: 8081 })],
    want: [],
  },
  {
    name: 'three files on one port, one holds it: the two others are in error, each once',
    claims: [claim('a', 8081), claim('b', 8081), claim('web', 8081)],
    candidates: [holder('a'), holder('b'), holder('web', { port: 8081 })],
    want: [
      'a: port 8081 is held by instance web (desired/web.yaml): it runs there; choose another port for a',
      'b: port 8081 is held by instance web (desired/web.yaml): it runs there; choose another port for b',
    ],
  },
];

describe('port claims: the instance holding a port keeps it (rule table)', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_n, row) => {
    const got = portProblems(row.claims, row.candidates).map((p) => `${p.claim.name}: ${p.message}`);
    expect(got.sort()).toEqual([...row.want].sort());
  });
});

describe('port claims in the loader (desired/ and instances/<name>/status.json on disk)', () => {
  const root = (files: Record<string, string>, applied: Record<string, { port: number; state?: string }> = {}) => {
    const dir = scratch('port-claims');
    mkdirSync(join(dir, 'desired'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'desired', name), text);
    for (const [name, a] of Object.entries(applied)) {
      mkdirSync(join(dir, 'instances', name), { recursive: true });
      const spec = { name, version: 'v1.0.0', runtime: 'tmux', state: a.state ?? 'running', port: a.port, address: '127.0.0.1', env: {}, secrets: [], health: { tcp: true, timeout: '30s', interval: '1s' }, rollout: { autoRollback: true } };
      writeFileSync(join(dir, 'instances', name, 'status.json'), JSON.stringify({
        phase: 'Ready', since: '2026-01-01T00:00:00.000Z', message: 'healthy',
        applied: { specHash: 'a'.repeat(64), version: 'v1.0.0', commit: 'c'.repeat(40), runtime: 'tmux', spec, envDigest: '' },
      }));
    }
    return dir;
  };
  const load = (dir: string): DesiredState => loadDesired({
    root: dir, desiredDir: join(dir, 'desired'), instancesDir: join(dir, 'instances'), config: config(), platform: 'linux', launchdWarn: false,
  });
  const status = (d: DesiredState) => Object.fromEntries(d.entries.map((e) => [e.name, e.status]));

  it('web applied on 8081, a new api.yaml on 8081: api invalid at its port line naming web, web valid', () => {
    const dir = root({
      'web.yaml': 'version: v1.0.0\nruntime: tmux\nport: 8081\n',
      'api.yaml': 'version: v1.0.0\nruntime: tmux\n\nport: 8081\n',
    }, { web: { port: 8081 } });
    const d = load(dir);
    expect(status(d)).toEqual({ api: 'invalid', web: 'valid' });
    expect(d.diagnostics).toEqual([{
      severity: 'error', file: 'desired/api.yaml', line: 4, col: 7, instance: 'api',
      message: 'port 8081 is held by instance web (desired/web.yaml): it runs there; choose another port for api',
    }]);
  });

  it('no status.json on either side: both files are invalid, as before', () => {
    const d = load(root({ 'web.yaml': 'version: v1.0.0\nruntime: tmux\nport: 8081\n', 'api.yaml': 'version: v1.0.0\nruntime: tmux\nport: 8081\n' }));
    expect(status(d)).toEqual({ api: 'invalid', web: 'invalid' });
    expect(d.diagnostics.map((x) => `${x.file}:${x.line}: ${x.message}`)).toEqual([
      'desired/api.yaml:3: port 8081 is also used by desired/web.yaml',
      'desired/web.yaml:3: port 8081 is also used by desired/api.yaml',
    ]);
  });

  it('web\'s own file has a typo while it runs on 8081: a new api.yaml on 8081 is invalid too', () => {
    const d = load(root({ 'web.yaml': 'version: v1.0.0\nruntime: tmux\nprot: 8081\n', 'api.yaml': 'version: v1.0.0\nruntime: tmux\nport: 8081\n' }, { web: { port: 8081 } }));
    expect(status(d)).toEqual({ api: 'invalid', web: 'invalid' });
    expect(d.diagnostics.find((x) => x.file === 'desired/api.yaml')?.message)
      .toBe('port 8081 is held by instance web (desired/web.yaml): it runs there (desired/web.yaml has errors); choose another port for api');
  });

  it('without instancesDir the default instances/ under the root is read (tend.yaml paths)', () => {
    const dir = root({ 'web.yaml': 'version: v1.0.0\nruntime: tmux\nport: 8081\n', 'api.yaml': 'version: v1.0.0\nruntime: tmux\nport: 8081\n' }, { web: { port: 8081 } });
    const d = loadDesired({ root: dir, desiredDir: join(dir, 'desired'), config: config(), platform: 'linux', launchdWarn: false });
    expect(status(d)).toEqual({ api: 'invalid', web: 'valid' });
  });
});
