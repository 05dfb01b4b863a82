// Pieces of create/delete/secret without a backend: .env editing (lines and comments kept, values read
// back the same, 0600), port picking against declared and bound ports, and the planner's removal of an
// instance asked for by name (outside prune, an empty desired/ and the breaker).
import { createServer, type Server } from 'node:net';
import { loose } from './helpers/planner-fixtures.js';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnvFile } from '../src/shared/env-parse.js';
import { editEnvFile, formatEnvLine } from '../src/ops/env-file.js';
import { canBind, firstFreePort, portProblem } from '../src/ops/ports.js';
import { plan } from '../src/planner/plan.js';
import { config, desired, observed, observedItem, upToDateItem, validEntry, C1 } from './helpers/planner-fixtures.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

describe('.env edits', () => {
  it('sets and removes keys in place, keeping comments, other lines and order; drops later duplicates', () => {
    const file = join(scratch('env'), 'inst', '.env');
    expect(editEnvFile(file, { A: 'one' })).toEqual({ set: ['A'], unset: [] });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, '# secrets of web\nA=one\n\nB="two"\n# keep me\nA=dup\nC=3\n');
    expect(editEnvFile(file, { A: 'new value', D: 'd' })).toEqual({ set: ['A', 'D'], unset: [] });
    expect(readFileSync(file, 'utf8')).toBe("# secrets of web\nA='new value'\n\nB=\"two\"\n# keep me\nC=3\nD=d\n");
    expect(editEnvFile(file, { B: undefined, Z: undefined })).toEqual({ set: [], unset: ['B'] });
    expect(readFileSync(file, 'utf8')).toBe("# secrets of web\nA='new value'\n\n# keep me\nC=3\nD=d\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Unchanged values write nothing.
    const before = statSync(file).mtimeMs;
    expect(editEnvFile(file, { C: '3' })).toEqual({ set: [], unset: [] });
    expect(statSync(file).mtimeMs).toBe(before);
  });

  it('refuses to edit around a line systemd reads differently (naming it, never a value); setting that key replaces it', () => {
    const file = join(scratch('env-bad'), '.env');
    writeFileSync(file, 'A=1\nexport B=s3cr3t\nC="open\n');
    expect(() => editEnvFile(file, { A: '2' })).toThrow(`${file}:2:1: "export" before B`);
    expect(() => editEnvFile(file, { B: 'x' })).toThrow(`${file}:3:3: the value of C opens a " that is never closed`);
    try {
      editEnvFile(file, { A: '2' });
    } catch (err) {
      expect((err as Error).message).not.toMatch(/s3cr3t|open/);
    }
    expect(editEnvFile(file, { B: 'two', C: 'three' })).toEqual({ set: ['B', 'C'], unset: [] });
    expect(readFileSync(file, 'utf8')).toBe('A=1\nB=two\nC=three\n');
  });

  it('writes values tend reads back exactly; refuses those no .env form carries, naming only the key', () => {
    const values = ['plain-1.2:3/x@y', '', 'with space', "it's", 'a"b', 'dollar $HOME', 'back\\slash', '#hash', ' lead'];
    const file = join(scratch('env-values'), '.env');
    editEnvFile(file, Object.fromEntries(values.map((v, i) => [`K${i}`, v])));
    const back = parseEnvFile(readFileSync(file, 'utf8'));
    values.forEach((v, i) => expect(back.get(`K${i}`)).toBe(v));
    expect(() => formatEnvLine('K', 'two\nlines')).toThrow(/the value of K contains a line break/);
    expect(() => formatEnvLine('K', `it's "quoted"`)).toThrow(/the value of K mixes/);
    expect(() => formatEnvLine('1K', 'x')).toThrow(/not an environment variable name/);
    try {
      formatEnvLine('K', "s3cr3t'\"");
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cr3t');
    }
  });
});

describe('ports', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  const listen = (port: number) => new Promise<number>((resolve) => {
    const s = createServer();
    servers.push(s);
    s.listen(port, '127.0.0.1', () => resolve((s.address() as { port: number }).port));
  });

  it('skips declared ports and ports something listens on; names the reason', async () => {
    const taken = await listen(0);
    expect(await canBind(taken, '127.0.0.1')).toBe(false);
    const declared = new Map([[taken + 1, 'desired/web.yaml']]);
    expect(await portProblem(taken, '127.0.0.1', declared)).toBe(`Port ${taken} already in use`);
    expect(await portProblem(taken + 1, '127.0.0.1', declared)).toBe(`Port ${taken + 1} already in use (declared by desired/web.yaml)`);
    const next = await firstFreePort(declared, '127.0.0.1', taken);
    expect(next).toBeGreaterThan(taken + 1);
    expect(await canBind(next, '127.0.0.1')).toBe(true);
  });
});

describe('planner: removal asked for by name (tend delete, a failed create)', () => {
  it('deletes it even when desired/ is otherwise empty and without prune', () => {
    const p = plan(desired([]), observed([observedItem('tmux', 'web')]), { resolutions: {}, built: {} }, {}, { remove: new Set(['web']) });
    expect(p.instances).toMatchObject([{ name: 'web', change: 'delete', disruption: 'delete', reason: 'deletion of web was asked for (tmux session oubliette-web)' }]);
    expect(loose(p.actions).map((a) => a.id)).toEqual(['web/stop@tmux', 'web/delete@tmux']);
    expect(p.diagnostics).toEqual([]);
  });

  it('goes around the breaker for that one instance only; other removed instances keep the rules', () => {
    const api = validEntry('api');
    const p = plan(
      desired([api], { config: config({ prune: { maxShare: 0.1 } }) }),
      observed([upToDateItem(api, C1), observedItem('systemd', 'web', { state: 'stopped' }), observedItem('docker', 'old')]),
      { resolutions: { 'v1.3.0': { status: 'resolved', tag: 'v1.3.0', commit: C1 } }, built: {} }, {},
      { remove: new Set(['web']), prune: true },
    );
    const byName = Object.fromEntries(p.instances.filter((i) => i.name !== 'api').map((i) => [i.name, i.change]));
    // old: 1 of 3 instances is over maxShare 10%, so the breaker holds it; web was asked for.
    expect(byName).toEqual({ old: 'blocked', web: 'delete' });
    expect(p.diagnostics.map((d) => d.message)).toEqual(['refusing to delete 1 of 3 instances (old): more than prune.maxShare 10%; pass --force to allow']);
    expect(loose(p.actions).filter((a) => a.instance === 'web').map((a) => a.type)).toEqual(['delete']);
  });
});
