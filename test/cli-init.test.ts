// tend init with the built CLI: a root `tend validate` accepts, schema lines that point at real files,
// a .gitignore git honours (releases/, instances/, .env files out; desired files in), no overwrite.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
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
});
