// tend init with the built CLI: a root `tend validate` accepts, schema lines that point at real files,
// a .gitignore git honours (releases/, instances/, .env files out; desired files in), no overwrite.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { desiredSchemaLine } from '../src/ops/schema-ref.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const git = (dir: string, args: string[]) => execa('git', ['-C', dir, ...args], { reject: false, env: { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });

describe('tend init', () => {
  beforeAll(async () => {
    await buildOnce();
  }, 120_000);

  it('makes a root tend validate accepts, with schema lines to existing files; never overwrites tend.yaml', async () => {
    const dir = join(scratch('init'), 'ops');
    const r = await tend(['init', dir, '--app', 'demo']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/tend.yaml\n');
    const config = readFileSync(join(dir, 'tend.yaml'), 'utf8');
    expect(config).toMatch(/^# yaml-language-server: \$schema=\S+tend\.schema\.json\n/);
    expect(config).toContain('apiVersion: tend/v1\napp: demo ');
    expect(existsSync(join(dir, /\$schema=(\S+)/.exec(config)![1]!))).toBe(true);
    const example = readFileSync(join(dir, 'desired', 'example.yaml.sample'), 'utf8');
    expect(existsSync(join(dir, 'desired', /\$schema=(\S+)/.exec(example)![1]!))).toBe(true);

    const v = await tend(['-C', dir, 'validate']);
    expect(v.stderr).not.toMatch(/error/);
    expect(v.code).toBe(0);
    // The example, copied to a .yaml file, validates too.
    writeFileSync(join(dir, 'desired', 'web.yaml'), example);
    const v2 = await tend(['-C', dir, 'validate']);
    expect(v2.stderr).not.toMatch(/error/);
    expect(v2.code).toBe(0);

    const again = await tend(['init', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('tend.yaml exists: not overwritten');
    expect(readFileSync(join(dir, 'tend.yaml'), 'utf8')).toBe(config);
  });

  it('.gitignore keeps releases/, instances/ and .env files out of git, desired files in; an existing one is extended', async () => {
    const dir = scratch('init-git');
    writeFileSync(join(dir, '.gitignore'), 'node_modules/');
    expect((await git(dir, ['init', '-q'])).exitCode).toBe(0);
    const r = await tend(['-C', dir, 'init']);
    expect(r.code).toBe(0);
    const ignore = readFileSync(join(dir, '.gitignore'), 'utf8');
    expect(ignore.startsWith('node_modules/\n')).toBe(true);
    for (const p of ['releases/v1.0.0/bin/app', 'instances/web/.env', 'instances/web/logs/web.log', 'desired/.env', 'prod.env']) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), 'x');
      expect((await git(dir, ['check-ignore', '-q', p])).exitCode, p).toBe(0);
    }
    for (const p of ['tend.yaml', 'desired/web.yaml', 'desired/example.yaml.sample']) {
      writeFileSync(join(dir, p), readFileSync(join(dir, 'tend.yaml'), 'utf8'));
      expect((await git(dir, ['check-ignore', '-q', p])).exitCode, p).toBe(1);
    }
  });

  it('the app name defaults to the folder name, made into a valid one; a bad --app is refused', async () => {
    const dir = join(scratch('init-name'), '2 My App');
    const r = await tend(['init', dir]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'tend.yaml'), 'utf8')).toContain('app: my-app ');
    const bad = await tend(['init', join(scratch('init-bad'), 'x'), '--app', 'Bad_App']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('app name "Bad_App" must be a lowercase name');
  });

  it('schema lines point at the root\'s own copy of the schemas, so they still resolve in a clone of the root elsewhere', async () => {
    const dir = join(scratch('init-clone'), 'ops');
    const r = await tend(['init', dir, '--app', 'demo']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/schemas/tend.schema.json\n');
    expect((await git(dir, ['init', '-q'])).exitCode).toBe(0);
    expect((await git(dir, ['add', '-A'])).exitCode).toBe(0);
    expect((await git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'root'])).exitCode).toBe(0);
    // The clone lives at another depth, far from the tend checkout that wrote it.
    const clone = join(scratch('init-clone-there'), 'a', 'b', 'c', 'ops');
    mkdirSync(dirname(clone), { recursive: true });
    expect((await execa('git', ['clone', '-q', dir, clone], { reject: false })).exitCode).toBe(0);
    for (const [file, schema] of [['tend.yaml', 'tend.schema.json'], ['desired/example.yaml.sample', 'instance.schema.json']] as const) {
      const line = readFileSync(join(clone, file), 'utf8').split('\n', 1)[0]!;
      const target = /\$schema=(\S+)/.exec(line)![1]!;
      expect(target.startsWith('/'), `${file}: ${line}`).toBe(false);
      const resolved = join(clone, dirname(file), target);
      expect(resolved, `${file}: ${line}`).toBe(join(clone, 'schemas', schema));
      expect(JSON.parse(readFileSync(resolved, 'utf8')).$id).toMatch(new RegExp(`/${schema.replace('.', '\\.')}$`));
    }
    // A desired file tend create writes in the clone points at the root's copy too.
    expect(desiredSchemaLine(join(clone, 'desired'), clone)).toBe('# yaml-language-server: $schema=../schemas/instance.schema.json');
    const v = await tend(['-C', clone, 'validate']);
    expect(v.code).toBe(0);
  });

  it('writes no artifacts or run the root\'s build does not make: source.artifacts and source.run stay unset (commented examples)', async () => {
    const dir = join(scratch('init-artifacts'), 'ops');
    const r = await tend(['init', dir, '--app', 'demo']);
    expect(r.code).toBe(0);
    const text = readFileSync(join(dir, 'tend.yaml'), 'utf8');
    const config = parse(text) as { source: Record<string, unknown> };
    expect(config.source.artifacts).toBeUndefined();
    expect(config.source.run).toBeUndefined();
    expect(text).toMatch(/^ {2}# artifacts: \[bin\/demo\]/m);
    expect(text).not.toMatch(/^\s*artifacts:/m);
  });
});
