// Secrets end to end on a real tmux server: tend create with the secrets tend.yaml requires (an error
// off a terminal when missing; --secret KEY read from stdin), and tend secret set|unset: .env kept 0600
// with its other lines and comments, the instance restarted with the new value (read back from the
// fixture app's /env/<NAME>), the plan showing `.env: (sensitive)`, values never in output or files.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, CLI, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses, quietYaml } from './drivers/contract-backends.js';

const scratch = useScratch();
const h = harnesses.find((x) => x.runtime === 'tmux')!;
const socket = /socket: (\S+)/.exec(h.configYaml('x'))![1]!;

const gate = await backendGate('tmux');
describe.skipIf(gate.skip)('secrets on tmux', () => {
  const app = `se${process.pid}${randomBytes(2).toString('hex')}`;
  let root: string;
  let port: number;
  const run = (args: string[], input?: string) => tend(['-C', root, ...args], input !== undefined ? { input } : { stdin: 'ignore' });
  const envFile = () => join(root, 'instances', 'web', '.env');
  const live = async (key: string) => (await httpGet(`http://127.0.0.1:${port}/env/${key}`)).body;
  const hasSession = async (name: string) => (await execa('tmux', ['-L', socket, 'has-session', '-t', `=${app}-${name}`], { reject: false })).exitCode === 0;

  beforeAll(async () => {
    gate.check();
    await buildOnce();
    root = scratch('secret');
    await fixtureRoot(h, root, app, {
      runtimeYaml: `${quietYaml(h, app)}\ndefaults:\n  runtime: tmux\n  health:\n    timeout: 5s\n    interval: 250ms`,
    });
    const tendYaml = join(root, 'tend.yaml');
    writeFileSync(tendYaml, readFileSync(tendYaml, 'utf8').replace('\n  run:\n', '\n  secrets: [API_TOKEN]\n  run:\n'));
    port = await freePort();
  }, 120_000);

  afterAll(async () => {
    await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
  }, 60_000);

  it('create off a terminal without the required secret: an error naming it, nothing written', async () => {
    const r = await run(['create', 'web', '--port', String(port), '--version', 'v1.1.0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('secret API_TOKEN required (tend.yaml source.secrets) but not given');
    expect(existsSync(join(root, 'desired', 'web.yaml'))).toBe(false);
    expect(existsSync(join(root, 'instances', 'web'))).toBe(false);
    expect(await hasSession('web')).toBe(false);
  });

  it('create with --secret KEY values from stdin: .env 0600, names only in the desired file, values reach the process', async () => {
    const r = await run(['create', 'web', '--port', String(port), '--version', 'v1.1.0', '--secret', 'API_TOKEN', '--secret', 'EXTRA'], 'tok-1\nextra value\n');
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Instance web running on http://localhost:${port} (v1.1.0)`);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/tok-1|extra value/);
    expect(statSync(envFile()).mode & 0o777).toBe(0o600);
    const desired = readFileSync(join(root, 'desired', 'web.yaml'), 'utf8');
    expect(desired).toMatch(/secrets:\n\s+- EXTRA\n/);
    expect(desired).not.toMatch(/tok-1|extra value/);
    expect(await live('API_TOKEN')).toBe('tok-1');
    expect(await live('EXTRA')).toBe('extra value');
  }, 60_000);

  it('secret set from stdin: other lines and comments kept, 0600, the plan says (sensitive), the new value reaches the restarted process', async () => {
    appendFileSync(envFile(), '# rotated by ops\nUNRELATED=keep\n');
    const r = await run(['secret', 'set', 'web', 'API_TOKEN', '-'], "tok 2 'q'\n");
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('instances/web/.env: API_TOKEN set\n');
    expect(r.stdout).toMatch(/plan: \w+ web \[[a-z+]+\] \(\.env: \(sensitive\)\)/);
    expect(r.stdout).toContain('web: Ready (v1.1.0)');
    expect(`${r.stdout}${r.stderr}`).not.toContain('tok 2');
    expect(await live('API_TOKEN')).toBe("tok 2 'q'");
    const text = readFileSync(envFile(), 'utf8');
    expect(text).toContain('# rotated by ops\nUNRELATED=keep\n');
    expect(text.match(/API_TOKEN=/g)).toHaveLength(1);
    expect(statSync(envFile()).mode & 0o777).toBe(0o600);
    const plan = await run(['reconcile', '--dry-run']);
    expect(plan.stdout).not.toContain('tok 2');
  }, 60_000);

  it('the same value again changes nothing and restarts nothing', async () => {
    const r = await run(['secret', 'set', 'web', 'EXTRA', 'extra value']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('instances/web/.env: EXTRA unchanged\n');
    expect(r.stdout).not.toContain('plan:');
  }, 60_000);

  it('secret set with no value asks on a terminal without echoing it', async () => {
    const child = execa('script', ['-qec', `node ${CLI} -C ${root} secret set web OTHER`, '/dev/null'], { reject: false });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const deadline = Date.now() + 20_000;
    while (!out.includes('(input hidden)')) {
      if (Date.now() > deadline) throw new Error(`no prompt: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.stdin!.write('hidden-val\r');
    child.stdin!.end();
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(out).toContain('OTHER for web (input hidden): ');
    expect(out).toContain('instances/web/.env: OTHER set');
    expect(out).not.toContain('hidden-val');
    expect(readFileSync(envFile(), 'utf8')).toContain('OTHER=hidden-val\n');
    expect(await live('OTHER')).toBe('hidden-val');
  }, 60_000);

  it('--no-apply only edits; unset refuses a required key and removes another one (restarting the instance)', async () => {
    const edit = await run(['secret', 'set', 'web', 'API_TOKEN', 'tok-3', '--no-apply']);
    expect(edit.code).toBe(0);
    expect(edit.stdout).not.toContain('plan:');
    expect(readFileSync(envFile(), 'utf8')).toContain('API_TOKEN=tok-3\n');
    expect(await live('API_TOKEN')).toBe("tok 2 'q'");

    const refused = await run(['secret', 'unset', 'web', 'API_TOKEN']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('API_TOKEN is required by tend.yaml source.secrets');
    const refused2 = await run(['secret', 'unset', 'web', 'EXTRA']);
    expect(refused2.code).toBe(1);
    expect(refused2.stderr).toContain("EXTRA is required by the desired file's secrets:");

    const r = await run(['secret', 'unset', 'web', 'OTHER']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('instances/web/.env: OTHER removed\n');
    expect(readFileSync(envFile(), 'utf8')).not.toContain('OTHER=');
    expect((await httpGet(`http://127.0.0.1:${port}/env/OTHER`)).status).toBe(404);
    // The restart picked up the --no-apply edit as well.
    expect(await live('API_TOKEN')).toBe('tok-3');
  }, 60_000);

  it('an unknown instance or a bad key is an error', async () => {
    const none = await run(['secret', 'set', 'nope', 'KEY', 'v']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no instance nope');
    const bad = await run(['secret', 'set', 'web', 'BAD-KEY', 'v']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"BAD-KEY" is not an environment variable name');
    const noValue = await run(['secret', 'set', 'web', 'KEY']);
    expect(noValue.code).toBe(1);
    expect(noValue.stderr).toContain('no value for KEY');
  }, 60_000);
});
