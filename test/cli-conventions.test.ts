// CLI conventions every operator command shares, with the built CLI as a real process on a root with
// the fixture app repository (tags v1.0.0, v1.1.0, v2.0.0): `-C DIR` before and after the subcommand
// (nested ones too), run from a folder without tend.yaml; the agent.git.pull rule over every command
// that edits desired files (refused, nothing touched; --local goes ahead), and the commands that do not
// edit them (restart, retry, secret) left free; rollback --to an unknown tag refused like update; a
// reconcile the plan refuses explained on stderr; each command's --help stating its exit codes. Most
// edits use --no-apply: what is checked is the files.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';
import { freePort } from './fixtures/app.js';
import { fixtureRoot, harnesses, quietYaml } from './drivers/contract-backends.js';

const scratch = useScratch();
const h = harnesses.find((x) => x.runtime === 'tmux')!;
const gate = await backendGate('tmux');

describe.skipIf(gate.skip)('operator command conventions (tmux root, --no-apply)', () => {
  const app = `cv${process.pid}${randomBytes(2).toString('hex')}`;
  let root: string;
  /** A working directory with no tend.yaml in it or above it: only -C can find the root. */
  let elsewhere: string;
  const inRoot = (...p: string[]) => join(root, ...p);
  const read = (...p: string[]) => readFileSync(inRoot(...p), 'utf8');
  /** The desired files, name -> text. */
  const desiredFiles = () => Object.fromEntries(readdirSync(inRoot('desired')).sort().map((f) => [f, read('desired', f)]));

  beforeAll(async () => {
    gate.check();
    await buildOnce();
    root = scratch('conventions');
    elsewhere = scratch('conventions-cwd');
    await fixtureRoot(h, root, app, { runtimeYaml: `${quietYaml(h, app)}\ndefaults:\n  runtime: tmux` });
  }, 120_000);

  afterAll(async () => {
    await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
  }, 60_000);

  for (const where of ['before', 'after'] as const) {
    it(`-C DIR ${where} the subcommand: every command acts on that root, run from a folder without tend.yaml`, async () => {
      const name = `c-${where}`;
      const run = (args: string[], input?: string) => tend(where === 'before' ? ['-C', root, ...args] : [...args, '-C', root], {
        cwd: elsewhere, ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
      });
      const ok = async (args: string[], input?: string) => {
        const r = await run(args, input);
        expect(r.code, `tend ${args.join(' ')}: ${r.stderr}`).toBe(0);
        return r;
      };
      // Without -C nothing is found from there.
      const lost = await tend(['status'], { cwd: elsewhere, stdin: 'ignore' });
      expect(lost.code).toBe(1);

      const port = await freePort();
      await ok(['create', name, '--version', 'v1.1.0', '--port', String(port), '--no-apply']);
      expect(read('desired', `${name}.yaml`)).toContain(`port: ${port}\n`);
      await ok(['stop', name, '--no-apply']);
      expect(read('desired', `${name}.yaml`)).toMatch(/^state: stopped$/m);
      await ok(['start', name, '--no-apply']);
      expect(read('desired', `${name}.yaml`)).toMatch(/^state: running$/m);
      // A subcommand's --version is the subcommand's, never tend's own.
      const upd = await ok(['update', name, '--version', 'v1.0.0', '--no-apply']);
      expect(upd.stdout).toContain(`desired/${name}.yaml: version v1.1.0 -> v1.0.0`);
      expect(read('desired', `${name}.yaml`)).toMatch(/^version: v1\.0\.0$/m);
      await ok(['rollback', name, '--to', 'v1.1.0', '--no-apply']);
      expect(read('desired', `${name}.yaml`)).toMatch(/^version: v1\.1\.0$/m);
      await ok(['restart', name, '--no-apply']);
      expect(JSON.parse(read('instances', name, 'requests.json'))).toMatchObject({ restartRequestedAt: expect.any(String) });
      await ok(['secret', 'set', name, 'API_TOKEN', '-', '--no-apply'], 'tok\n');
      expect(read('instances', name, '.env')).toContain('API_TOKEN=tok\n');
      await ok(['secret', 'unset', name, 'API_TOKEN', '--no-apply']);
      expect(read('instances', name, '.env')).not.toContain('API_TOKEN');
      expect((await ok(['retry', name, '--no-apply'])).stdout).toContain(`${name}: nothing is held`);

      const st = JSON.parse((await ok(['status', name, '--json'])).stdout) as { instance: { name: string; port: number } };
      expect(st.instance).toMatchObject({ name, port });
      expect((await ok(['status'])).stdout).toMatch(new RegExp(`^${name} +tmux `, 'm'));
      expect((await ok(['history', name])).stdout).toBe(`${name}: no history yet\n`);
      expect((await ok(['validate'])).stdout).toMatch(/desired files? valid/);
      expect((await ok(['reconcile', '--dry-run'])).stdout).toContain(name);
      expect((await ok(['releases'])).stdout).toContain('no releases');
      expect((await ok(['prune-releases', '--dry-run'])).stdout).toContain('Prune: 0 to delete');
      const logs = await run(['logs', name, '--tail', '5']);
      expect(logs.code).toBe(1);
      expect(logs.stderr).toContain(`instances/${name}/logs/${name}.log does not exist`);
      expect((await ok(['agent', 'install', '--print'])).stdout).toContain(root);

      const del = await ok(['delete', name, '--yes']);
      expect(del.stdout).toContain(`Instance ${name} deleted`);
      expect(existsSync(inRoot('desired', `${name}.yaml`))).toBe(false);
      expect(existsSync(inRoot('instances', name))).toBe(false);

      // tend init takes its folder from -C when no DIR is given.
      const fresh = join(scratch('conventions-init'), 'ops');
      mkdirSync(fresh);
      const init = await tend(where === 'before' ? ['-C', fresh, 'init', '--app', 'x'] : ['init', '--app', 'x', '-C', fresh], { cwd: elsewhere, stdin: 'ignore' });
      expect(init.code, init.stderr).toBe(0);
      expect(readFileSync(join(fresh, 'tend.yaml'), 'utf8')).toContain('app: x');
    }, 120_000);
  }

  it('-C between a command group and its subcommand works too (tend secret -C DIR set ..., tend agent -C DIR install --print)', async () => {
    const port = await freePort();
    expect((await tend(['-C', root, 'create', 'grp', '--port', String(port), '--no-apply'], { cwd: elsewhere, stdin: 'ignore' })).code).toBe(0);
    const r = await tend(['secret', '-C', root, 'set', 'grp', 'K', 'v1', '--no-apply'], { cwd: elsewhere, stdin: 'ignore' });
    expect(r.code, r.stderr).toBe(0);
    expect(read('instances', 'grp', '.env')).toContain('K=v1\n');
    const a = await tend(['agent', '-C', root, 'install', '--print'], { cwd: elsewhere, stdin: 'ignore' });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain(root);
    expect((await tend(['-C', root, 'delete', 'grp', '--yes'], { cwd: elsewhere, stdin: 'ignore' })).code).toBe(0);
  }, 60_000);

  it('agent.git.pull on: every command that edits desired files refuses and touches nothing; --local goes ahead; restart, retry and secret (no desired file edited) are allowed', async () => {
    const run = (args: string[]) => tend(['-C', root, ...args], { stdin: 'ignore' });
    const portA = await freePort();
    const portB = await freePort();
    expect((await run(['create', 'ga', '--version', 'v1.1.0', '--port', String(portA), '--no-apply'])).code).toBe(0);
    const config = inRoot('tend.yaml');
    const original = readFileSync(config, 'utf8');
    writeFileSync(config, `${original}\nagent:\n  git:\n    pull: true\n`);
    try {
      const before = desiredFiles();
      const editing: string[][] = [
        ['create', 'gb', '--port', String(portB), '--no-apply'],
        ['delete', 'ga', '--yes'],
        ['start', 'ga', '--no-apply'],
        ['stop', 'ga', '--no-apply'],
        ['update', 'ga', '--version', 'v1.0.0', '--no-apply'],
        ['update', '--all', '--version', 'v1.0.0', '--no-apply'],
        ['rollback', 'ga', '--to', 'v1.0.0', '--no-apply'],
      ];
      for (const args of editing) {
        const r = await run(args);
        expect(r.code, `tend ${args.join(' ')}`).toBe(1);
        expect(r.stderr, `tend ${args.join(' ')}`).toMatch(/^error: agent\.git\.pull is on, so desired files come from git: .* in a checkout and commit it \(the agent pulls it\), or pass --local to edit this copy$/m);
        expect(desiredFiles(), `tend ${args.join(' ')}`).toEqual(before);
      }
      expect(existsSync(inRoot('instances', 'gb'))).toBe(false);

      // Not desired-file edits: allowed, and the desired files stay as they are.
      expect((await run(['restart', 'ga', '--no-apply'])).code).toBe(0);
      expect(existsSync(inRoot('instances', 'ga', 'requests.json'))).toBe(true);
      expect((await run(['retry', 'ga', '--no-apply'])).code).toBe(0);
      expect((await run(['secret', 'set', 'ga', 'K', 'v', '--no-apply'])).code).toBe(0);
      expect(read('instances', 'ga', '.env')).toContain('K=v\n');
      expect((await run(['secret', 'unset', 'ga', 'K', '--no-apply'])).code).toBe(0);
      expect(desiredFiles()).toEqual(before);

      // --local: each goes ahead.
      const local = async (args: string[]) => {
        const r = await run([...args, '--local']);
        expect(r.code, `tend ${args.join(' ')} --local: ${r.stderr}`).toBe(0);
      };
      await local(['stop', 'ga', '--no-apply']);
      expect(read('desired', 'ga.yaml')).toMatch(/^state: stopped$/m);
      await local(['start', 'ga', '--no-apply']);
      expect(read('desired', 'ga.yaml')).toMatch(/^state: running$/m);
      await local(['update', 'ga', '--version', 'v1.0.0', '--no-apply']);
      expect(read('desired', 'ga.yaml')).toMatch(/^version: v1\.0\.0$/m);
      await local(['rollback', 'ga', '--to', 'v1.1.0', '--no-apply']);
      expect(read('desired', 'ga.yaml')).toMatch(/^version: v1\.1\.0$/m);
      await local(['create', 'gb', '--version', 'v1.1.0', '--port', String(portB), '--no-apply']);
      await local(['update', '--all', '--version', 'v1.0.0', '--no-apply']);
      expect(read('desired', 'ga.yaml')).toMatch(/^version: v1\.0\.0$/m);
      expect(read('desired', 'gb.yaml')).toMatch(/^version: v1\.0\.0$/m);
      await local(['delete', 'gb', '--yes']);
      await local(['delete', 'ga', '--yes']);
      expect(readdirSync(inRoot('desired'))).toEqual([]);
    } finally {
      writeFileSync(config, original);
    }
  }, 120_000);

  it('a command whose reconcile the plan refuses says why on stderr (exit 1): a tag gone from the repository, a session tend does not own', async () => {
    const run = (args: string[]) => tend(['-C', root, ...args], { stdin: 'ignore' });
    const port = await freePort();
    expect((await run(['create', 'bk', '--version', 'v1.1.0', '--port', String(port), '--no-apply'])).code).toBe(0);
    const file = inRoot('desired', 'bk.yaml');
    // As a pull of a file naming a tag not pushed yet would leave it.
    writeFileSync(file, read('desired', 'bk.yaml').replace('version: v1.1.0', 'version: v9.9.9'));
    for (const args of [['start', 'bk'], ['stop', 'bk'], ['restart', 'bk'], ['secret', 'set', 'bk', 'K', 'v']]) {
      const r = await run(args);
      expect(r.code, `tend ${args.join(' ')}`).toBe(1);
      expect(r.stderr, `tend ${args.join(' ')}`).toMatch(/^desired\/bk\.yaml:\d+:\d+: error: Git tag v9\.9\.9 not found$/m);
    }
    writeFileSync(file, read('desired', 'bk.yaml').replace('version: v9.9.9', 'version: v1.1.0'));
    const look = await h.lookalike(app, 'bk', loadConfig({ cwd: root, dir: root, env: {} }).config!);
    try {
      const r = await run(['update', 'bk', '--version', 'v1.0.0']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^desired/bk\\.yaml:\\d+:\\d+: error: tmux session ${app}-bk exists and is not owned by tend`, 'm'));
      expect(await look.intact()).toBe(true);
    } finally {
      await look.remove();
    }
    expect((await run(['delete', 'bk', '--yes'])).code).toBe(0);
  }, 60_000);

  it('rollback --to a tag that does not exist: "Git tag v9.9.9 not found", exit 1, the file untouched (as update)', async () => {
    const run = (args: string[]) => tend(['-C', root, ...args], { stdin: 'ignore' });
    const port = await freePort();
    expect((await run(['create', 'rb', '--version', 'v1.1.0', '--port', String(port), '--no-apply'])).code).toBe(0);
    const before = read('desired', 'rb.yaml');
    for (const args of [['rollback', 'rb', '--to', 'v9.9.9'], ['rollback', 'rb', '--to', 'v9.9.9', '--no-apply'], ['update', 'rb', '--version', 'v9.9.9']]) {
      const r = await run(args);
      expect(r.code, `tend ${args.join(' ')}`).toBe(1);
      expect(r.stderr).toContain('Git tag v9.9.9 not found');
      expect(read('desired', 'rb.yaml')).toBe(before);
    }
    expect((await run(['delete', 'rb', '--yes'])).code).toBe(0);
  }, 60_000);
});

describe('every command\'s --help states its exit codes', () => {
  const commands = [
    ['validate'], ['reconcile'], ['releases'], ['releases', 'build'], ['prune-releases'], ['discover'], ['status'], ['history'],
    ['rollback'], ['retry'], ['agent'], ['agent', 'install'], ['agent', 'uninstall'], ['init'], ['create'], ['delete'],
    ['secret', 'set'], ['secret', 'unset'], ['start'], ['stop'], ['restart'], ['update'], ['logs'],
  ];

  beforeAll(async () => {
    await buildOnce();
  }, 120_000);

  it('each one, and the top-level help lists every command', async () => {
    const top = await tend(['--help']);
    for (const c of commands) expect(top.stdout, c[0]).toMatch(new RegExp(`^  ${c[0]}\\b`, 'm'));
    for (const c of commands) {
      const r = await tend([...c, '--help']);
      expect(r.code, c.join(' ')).toBe(0);
      expect(r.stdout, `tend ${c.join(' ')} --help`).toMatch(/Exit codes?:\s+0\b/);
    }
  }, 120_000);
});
