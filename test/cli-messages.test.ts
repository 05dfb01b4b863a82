// Issue 14, point 8: messages of the built CLI as a new user meets them (real processes, real git
// repositories; no runtime is involved), and the pieces behind them (closest tags, the executor's log
// fields under an instance's child logger).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAgentLogger, execLog, instanceLogger } from '../src/agent/logger.js';
import { closestTags, notFound } from '../src/release/tags.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';
import { makeFixtureRepo } from './fixtures/app.js';

const scratch = useScratch();

beforeAll(async () => {
  await buildOnce();
}, 120_000);

describe('outside a deployment root', () => {
  it('every command says `error:` once and how to get a root: tend init, or -C DIR', async () => {
    const dir = scratch('no-root');
    for (const args of [['update', 'web', '--version', 'v1.1.0'], ['status'], ['start', 'web'], ['rollback', 'web'], ['reconcile']]) {
      const r = await tend(args, { cwd: dir });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toBe(`error: tend.yaml not found in ${dir} or any parent folder: run tend in the deployment root or name it with -C DIR, or make one here with tend init\n`);
    }
    const named = await tend(['-C', 'elsewhere', 'status'], { cwd: dir });
    expect(named.stderr).toBe(`error: tend.yaml not found in ${join(dir, 'elsewhere')}: check -C DIR names the deployment root, or make one there with tend init -C elsewhere\n`);
  });

  it('tend validate says tend.yaml is missing, not that it is invalid', async () => {
    const dir = scratch('validate-missing');
    const r = await tend(['validate'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('no tend.yaml; 1 error, 0 warnings');
    expect(r.stdout).not.toContain('invalid');
    expect(r.stdout).toContain('tend init');
  });

  it('tend agent --once off a terminal prints the reason, no stack trace', async () => {
    const dir = scratch('agent-once');
    const r = await tend(['agent', '--once', '--no-pretty'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/"stack"|\n\s+at /);
    expect(r.stderr).toBe(`error: tend.yaml not found in ${dir} or any parent folder: run tend in the deployment root or name it with -C DIR, or make one here with tend init\n`);
  });
});

describe('a mistyped command', () => {
  it('tend stauts suggests status and points at --help instead of printing all of it', async () => {
    const r = await tend(['stauts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: unknown command 'stauts'\n(Did you mean status?)\n(tend --help lists the commands)\n");
  });
});

describe('an unknown tag', () => {
  it('tend update web --version 1.1.0 names the tag meant (v1.1.0) and edits nothing', async () => {
    const root = scratch('unknown-tag');
    const { repo } = await makeFixtureRepo(join(root, 'app'));
    writeFileSync(join(root, 'tend.yaml'), ['apiVersion: tend/v1', 'app: msgs', 'source:', `  repo: ${repo}`, '  build: ./build.sh', '  artifacts: [bin/oubliette]', ''].join('\n'));
    mkdirSync(join(root, 'desired'));
    const file = join(root, 'desired', 'web.yaml');
    writeFileSync(file, 'version: v1.0.0\nruntime: tmux\nport: 18080\n');
    const r = await tend(['-C', root, 'update', 'web', '--version', '1.1.0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: Git tag 1.1.0 not found; did you mean v1.1.0?\n');
    const far = await tend(['-C', root, 'update', 'web', '--version', 'v1.0']);
    expect(far.stderr).toBe('error: Git tag v1.0 not found; did you mean one of v1.0.0, v1.1.0?\n');
    expect(readFileSync(file, 'utf8')).toBe('version: v1.0.0\nruntime: tmux\nport: 18080\n');
  }, 60_000);

  it('closestTags: the same tag but for its v or case alone, else those within a small edit distance and not just other digits, nearest first', () => {
    const tags = ['v1.0.0', 'v1.1.0', 'v2.0.0', 'v10.4.2', 'release-2024'];
    expect(closestTags('1.1.0', tags)).toEqual(['v1.1.0']);
    expect(closestTags('V2.0.0', tags)).toEqual(['v2.0.0']);
    // Another version is no typo: v1.2.0 is not v1.1.0 misspelt.
    expect(closestTags('v1.2.0', tags)).toEqual([]);
    expect(closestTags('v1.1', tags)).toEqual(['v1.1.0']);
    expect(closestTags('v1.0', tags)).toEqual(['v1.0.0', 'v1.1.0']);
    expect(closestTags('v9.9.9', tags)).toEqual([]);
    expect(closestTags('relase-2024', tags)).toEqual(['release-2024']);
    expect(notFound('v9.9.9', tags)).toBe('Git tag v9.9.9 not found');
  });
});

describe("the agent's JSON lines", () => {
  it('an executor line under an instance child logger carries `instance` once', () => {
    const file = join(scratch('log-dup'), 'agent.log');
    const exec = execLog(instanceLogger(createAgentLogger({ destination: file }), 'web'));
    exec('info', 'web: waiting for the lock', { instance: 'web', action: 'start:web' });
    const raw = readFileSync(file, 'utf8').trimEnd();
    expect(raw.match(/"instance":/g)).toHaveLength(1);
    expect(JSON.parse(raw)).toMatchObject({ instance: 'web', action: 'start:web', msg: 'web: waiting for the lock' });
  });
});
