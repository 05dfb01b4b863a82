// `tend validate` reports, with file:line:col, what apply or build would refuse later: control characters in
// env and config values (desired files and tend.yaml defaults), a source.build the builder will not run, and a
// .env line that tend and systemd's EnvironmentFile= would read differently (checked against real systemd).
// A reconcile leaves an instance whose .env has such a line as it runs, and says which line.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvFile } from '../../src/shared/env-parse.js';
import { loadConfig } from '../../src/spec/config.js';
import { backendGate, systemdUserEnv } from '../helpers/backends.js';
import { buildOnce, tend } from '../helpers/cli.js';
import { useScratch } from '../helpers/scratch.js';
import { freePort, httpGet } from '../fixtures/app.js';
import { fixtureRoot, harnesses, quietYaml } from '../drivers/contract-backends.js';

const scratch = useScratch();

/** `line:col` (1-based) of the first `needle` in `text`. */
function at(text: string, needle: string): string {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`${needle} not in the text`);
  const before = text.slice(0, i).split('\n');
  return `${before.length}:${before.at(-1)!.length + 1}`;
}

interface Problem { line: number; col: number; message: string }

/** parseEnvFile with its problems (the second argument collects them). */
function parse(text: string): { values: Map<string, string>; problems: Problem[] } {
  const problems: Problem[] = [];
  const values = (parseEnvFile as (t: string, p?: Problem[]) => Map<string, string>)(text, problems);
  return { values, problems };
}

// Every case: the .env text and where tend must see a problem (none: tend and systemd read the same).
const CASES: { text: string; problems: string[] }[] = [
  { text: 'TV_A=plain\nTV_B=\'single $x \\ "q"\'\nTV_C="double \'q\' \\" \\\\ end"\n  TV_D = spaced  \n# c\n;c\nTV_E=\nTV_F=a#b\nTV_G=tab\there\n', problems: [] },
  { text: 'TV_A="abc\nTV_B=2\n', problems: ['1:6'] },
  { text: "TV_A='abc\nTV_B=2\n", problems: ['1:6'] },
  { text: '   TV_A="abc\nTV_B=2\nTV_C="x"\n', problems: ['1:9'] },
  { text: 'TV_A=x\\y\n', problems: ['1:7'] },
  { text: 'TV_A=a\\\nTV_B=2\n', problems: ['1:7'] },
  { text: 'TV_A="x\\ny"\n', problems: ['1:8'] },
  { text: 'TV_A="p\\$q"\n', problems: ['1:8'] },
  { text: 'TV_A="x" y\n', problems: ['1:10'] },
  { text: "TV_A='x'y\n", problems: ['1:9'] },
  { text: 'export TV_A=5\nTV_B=6\n', problems: ['1:1'] },
  { text: 'TV_A=a\rb\nTV_B=1\n', problems: ['1:7'] },
];

describe('the .env parser reports each line tend and systemd would read differently, at line:col, without the value', () => {
  it('finds the problems of every case', () => {
    for (const c of CASES) {
      const { problems } = parse(c.text);
      expect(problems.map((p) => `${p.line}:${p.col}`), JSON.stringify(c.text)).toEqual(c.problems);
      for (const p of problems) expect(p.message).not.toMatch(/abc|x\\y|p\\\$q|"x"|'x'|a\\$|a\rb/);
    }
  });

  it('a file tend writes (tend secret set) has no problem', () => {
    expect(parse("A=plain\nB='two words'\nC=\"it's\"\n").problems).toEqual([]);
  });
});

const systemd = await backendGate('systemd');
describe.skipIf(systemd.skip)('... and real systemd (EnvironmentFile=) agrees exactly when tend reports no problem', () => {
  it('reads every case like tend when tend sees no problem, and differently when it does', async () => {
    systemd.check();
    const dir = scratch('envfile');
    for (const [i, c] of CASES.entries()) {
      const file = join(dir, `case${i}.env`);
      writeFileSync(file, c.text);
      const r = await execa('systemd-run', ['--user', '--wait', '--pipe', '-q', '-p', `EnvironmentFile=${file}`, '/usr/bin/env', '-0'],
        { env: systemdUserEnv(), stdin: 'ignore' });
      const fromSystemd = new Map(r.stdout.split('\0').filter((kv) => kv.startsWith('TV_')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      const { values, problems } = parse(c.text);
      const same = JSON.stringify([...values].sort()) === JSON.stringify([...fromSystemd].sort());
      expect(same, `${JSON.stringify(c.text)}: tend ${JSON.stringify([...values])} systemd ${JSON.stringify([...fromSystemd])}`).toBe(problems.length === 0);
    }
  }, 120_000);
});

describe('tend validate', () => {
  beforeAll(async () => {
    await buildOnce();
  }, 120_000);

  it('tend.yaml: control characters in defaults env/config values and a source.build the builder refuses, each at its line:col', async () => {
    const root = scratch('validate-config');
    mkdirSync(join(root, 'desired'));
    const text = [
      'apiVersion: tend/v1', 'app: va', 'source:', '  build: ./build.sh && ./package.sh', '  run:', '    artifact: bin/app',
      'defaults:', '  env:', '    GREETING: "hi\\e]0;title\\a"', '    TABS: "a\\tb"', '  config:', '    banner: "\\b"', '',
    ].join('\n');
    writeFileSync(join(root, 'tend.yaml'), text);
    const r = await tend(['-C', root, 'validate']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`tend.yaml:${at(text, './build.sh &&')}: error: source.build: build command "./build.sh && ./package.sh" uses shell syntax (&&)`);
    expect(r.stdout).toContain(`tend.yaml:${at(text, '"hi')}: error: defaults.env.GREETING contains a control character (U+001B)`);
    expect(r.stdout).toContain(`tend.yaml:${at(text, '"\\b"')}: error: defaults.config.banner contains a control character (U+0008)`);
    expect(r.stdout).not.toContain('TABS');
    const dry = await tend(['-C', root, 'reconcile', '--dry-run']);
    expect(dry.code).toBe(1);
    expect(`${dry.stdout}${dry.stderr}`).toContain('defaults.env.GREETING contains a control character');
  }, 60_000);

  it('tend.yaml: an unclosed quote and an empty build command', async () => {
    const root = scratch('validate-build');
    for (const [build, message] of [
      ['"./build.sh \'--flag"', 'build command has an unclosed \''],
      ['"   "', 'build command is empty'],
      ['"make `whoami`"', 'build command "make `whoami`" uses shell syntax (`whoami`)'],
    ] as const) {
      const text = ['apiVersion: tend/v1', 'app: vb', 'source:', `  build: ${build}`, ''].join('\n');
      writeFileSync(join(root, 'tend.yaml'), text);
      const r = await tend(['-C', root, 'validate']);
      expect(r.code, build).toBe(1);
      expect(r.stdout, build).toContain(`tend.yaml:4:10: error: source.build: ${message}`);
    }
  }, 60_000);

  it('desired files: control characters in env and config (a tab only where the runtime refuses it); .env lines at instances/NAME/.env:line:col, never a value', async () => {
    const root = scratch('validate-desired');
    mkdirSync(join(root, 'desired'));
    writeFileSync(join(root, 'tend.yaml'), 'apiVersion: tend/v1\napp: vd\nsource:\n  run:\n    artifact: bin/app\n');
    const web = [
      'version: v1.0.0', 'runtime: tmux', 'port: 18081', 'env:', '  PLAIN: ok', '  BELL: "ring\\a"', '  TABBED: "a\\tb"',
      'config:', '  title: "x\\e[31mred"', '  nested:', '    list: [ok, "nul\\0"]', '',
    ].join('\n');
    const api = ['version: v1.0.0', 'runtime: systemd', 'port: 18082', 'env:', '  TABBED: "a\\tb"', ''].join('\n');
    writeFileSync(join(root, 'desired', 'web.yaml'), web);
    writeFileSync(join(root, 'desired', 'api.yaml'), api);
    mkdirSync(join(root, 'instances', 'web'), { recursive: true });
    mkdirSync(join(root, 'instances', 'api'), { recursive: true });
    writeFileSync(join(root, 'instances', 'web', '.env'), '# secrets\nAPI_TOKEN=fine\nSECRET_B="s3cr3t-value\nNEXT=1\n', { mode: 0o600 });
    writeFileSync(join(root, 'instances', 'api', '.env'), 'export KEY=s3cr3t-too\n', { mode: 0o600 });
    const r = await tend(['-C', root, 'validate']);
    expect(r.code).toBe(1);
    const out = r.stdout;
    expect(out).toContain(`desired/web.yaml:${at(web, '"ring')}: error: env.BELL contains a control character (U+0007)`);
    expect(out).toContain(`desired/web.yaml:${at(web, '"x\\e')}: error: config.title contains a control character (U+001B)`);
    expect(out).toContain(`desired/web.yaml:${at(web, '"nul')}: error: config.nested.list[1] contains a control character (U+0000)`);
    expect(out).not.toMatch(/desired\/web\.yaml:\S+ error: env\.TABBED/);
    expect(out).toContain(`desired/api.yaml:${at(api, '"a\\t')}: error: env.TABBED contains a tab, which a systemd unit cannot hold`);
    expect(out).toMatch(/instances\/web\/\.env:3:10: error: the value of SECRET_B opens a " that is never closed/);
    expect(out).toMatch(/instances\/api\/\.env:1:1: error: .*export/);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/s3cr3t/);
    const json = JSON.parse((await tend(['-C', root, 'validate', '--json'])).stdout) as { ok: boolean; diagnostics: { file: string; line: number; col: number }[] };
    expect(json.ok).toBe(false);
    expect(json.diagnostics).toContainEqual(expect.objectContaining({ file: 'instances/web/.env', line: 3, col: 10, severity: 'error' }));
  }, 60_000);
});

const tmux = await backendGate('tmux');
const h = harnesses.find((x) => x.runtime === 'tmux')!;
const socket = /socket: (\S+)/.exec(h.configYaml('x'))![1]!;

describe.skipIf(tmux.skip)('reconcile with a .env line tend and systemd read differently (real tmux)', () => {
  const app = `ve${process.pid}${randomBytes(2).toString('hex')}`;
  let root: string;
  let port: number;
  const run = (args: string[]) => tend(['-C', root, ...args], { stdin: 'ignore' });
  const envFile = () => join(root, 'instances', 'web', '.env');
  const live = async (key: string) => (await httpGet(`http://127.0.0.1:${port}/env/${key}`)).body;
  const panePid = async () => (await execa('tmux', ['-L', socket, 'list-panes', '-t', `=${app}-web:`, '-F', '#{pane_pid}'], { reject: false })).stdout.trim();

  beforeAll(async () => {
    tmux.check();
    await buildOnce();
    root = scratch('env-refusal');
    await fixtureRoot(h, root, app, { runtimeYaml: `${quietYaml(h, app)}\ndefaults:\n  runtime: tmux\n  health:\n    timeout: 5s\n    interval: 250ms` });
    port = await freePort();
    writeFileSync(join(root, 'desired', 'web.yaml'), `version: v1.0.0\nport: ${port}\nsecrets: [API_TOKEN]\n`);
    mkdirSync(join(root, 'instances', 'web'), { recursive: true });
    writeFileSync(envFile(), 'API_TOKEN=tok-1\nOTHER=one\n', { mode: 0o600 });
    const r = await run(['reconcile']);
    expect(r.code, r.stderr).toBe(0);
    expect(await live('API_TOKEN')).toBe('tok-1');
  }, 180_000);

  afterAll(async () => {
    await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
  }, 60_000);

  it('leaves the running instance as it is and names the file and line; a fixed file is applied', async () => {
    const pid = await panePid();
    expect(pid).toMatch(/^\d+$/);
    writeFileSync(envFile(), 'API_TOKEN="tok-2\nOTHER=two\n', { mode: 0o600 });
    const dry = await run(['reconcile', '--dry-run', '--detailed-exitcode']);
    expect(dry.code).toBe(1);
    expect(`${dry.stdout}${dry.stderr}`).toContain('instances/web/.env:1:11: error: the value of API_TOKEN opens a " that is never closed');
    const r = await run(['reconcile']);
    expect(r.code).toBe(1);
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toContain('instances/web/.env:1:11: error: the value of API_TOKEN opens a " that is never closed');
    expect(out).not.toMatch(/tok-2|two/);
    expect(await panePid()).toBe(pid);
    expect(await live('API_TOKEN')).toBe('tok-1');
    expect(await live('OTHER')).toBe('one');

    writeFileSync(envFile(), 'API_TOKEN="tok-3"\nOTHER=three\n', { mode: 0o600 });
    const fixed = await run(['reconcile']);
    expect(fixed.code, `${fixed.stdout}${fixed.stderr}`).toBe(0);
    expect(await live('API_TOKEN')).toBe('tok-3');
    expect(await live('OTHER')).toBe('three');
  }, 120_000);

  it('tend secret set refuses to edit around such a line (naming it); setting that line\'s key replaces it', async () => {
    writeFileSync(envFile(), 'API_TOKEN="tok-3"\nOTHER=\'four\n', { mode: 0o600 });
    const refused = await run(['secret', 'set', 'web', 'API_TOKEN', 'tok-5', '--no-apply']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error: ${envFile()}:2:7: the value of OTHER opens a ' that is never closed`);
    expect(`${refused.stdout}${refused.stderr}`).not.toMatch(/tok-|four/);
    const fixed = await run(['secret', 'set', 'web', 'OTHER', 'five', '--no-apply']);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect((await run(['validate'])).code).toBe(0);
  }, 60_000);
});
