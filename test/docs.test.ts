// The docs stay true: docs/commands.md holds every command's current --help (scripts/gen-commands-doc.mjs),
// docs/configuration.md names every key of the schemas, every example root and desired file validates
// and carries a schema line that resolves, and examples/api/lifecycle.mjs runs create -> apply -> status
// -> delete through the API alone on a real tmux server.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, REPO, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';
import { fixtureRoot, harnesses, quietYaml } from './drivers/contract-backends.js';

const scratch = useScratch();
const read = (path: string) => readFileSync(join(REPO, path), 'utf8');

beforeAll(async () => {
  await buildOnce();
}, 120_000);

describe('docs/commands.md', () => {
  it('holds the --help of every command and subcommand as the CLI prints it now', async () => {
    const r = await execa('node', ['scripts/gen-commands-doc.mjs', '--check'], { cwd: REPO, reject: false });
    expect(r.stderr, 'run: npm run build && node scripts/gen-commands-doc.mjs').toBe('');
    expect(r.exitCode).toBe(0);
    const doc = read('docs/commands.md');
    for (const cmd of ['validate', 'reconcile', 'releases build', 'prune-releases', 'discover', 'rollback', 'retry', 'status', 'history',
      'agent', 'agent install', 'agent uninstall', 'create', 'delete', 'init', 'secret set', 'secret unset', 'start', 'stop', 'restart',
      'update', 'logs']) {
      expect(doc, cmd).toContain(`<!-- help: tend ${cmd} -->\n\`\`\`text\nUsage: tend ${cmd} [options]`);
    }
  });

  it('the check fails on a stale block and on a command without one', async () => {
    const { generate } = (await import(join(REPO, 'scripts/gen-commands-doc.mjs'))) as {
      generate(text: string): Promise<{ updated: string; problems: string[] }>;
    };
    const doc = read('docs/commands.md');
    const stale = doc.replace(/(<!-- help: tend logs -->\n```text\n)[\s\S]*?(\n```\n<!-- \/help -->)/, '$1Usage: tend logs (old)$2');
    expect(stale).not.toBe(doc);
    const fixed = await generate(stale);
    expect(fixed.updated).toBe(doc);
    const missing = await generate(doc.replace('<!-- help: tend retry -->', '<!-- help: tend retry-not -->'));
    expect(missing.problems).toEqual(expect.arrayContaining([
      'a block for tend retry-not, which is not a command',
      'no block for tend retry (add <!-- help: tend retry --> ... <!-- /help -->)',
    ]));
  });
});

interface SchemaNode { properties?: Record<string, SchemaNode> }

/** Property paths of a JSON schema (`source.run.args`), not descending into $ref'd or allOf'd schemas: leaves and the mappings holding them. */
function schemaPaths(schema: SchemaNode, prefix = ''): { path: string; leaf: boolean }[] {
  return Object.entries(schema.properties ?? {}).flatMap(([key, sub]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return [{ path, leaf: sub.properties === undefined }, ...schemaPaths(sub, path)];
  });
}

describe('docs/configuration.md', () => {
  const doc = read('docs/configuration.md');
  for (const file of ['tend.schema.json', 'instance.schema.json']) {
    it(`names every key of schemas/${file}`, () => {
      const paths = schemaPaths(JSON.parse(read(`schemas/${file}`)) as SchemaNode);
      expect(paths.filter((p) => p.leaf).length).toBeGreaterThan(20);
      // A key with a value of its own has a table row; a mapping is named (as a heading or a row).
      const missing = paths.filter((p) => !doc.includes(p.leaf ? `| \`${p.path}\` |` : `\`${p.path}\``)).map((p) => p.path);
      expect(missing).toEqual([]);
    });
  }

  it('gives the built-in defaults of tend.yaml as src/spec/config.ts has them', async () => {
    const { BUILTIN_CONFIG } = await import('../src/spec/config.js');
    const rows: [string, unknown][] = [
      ['source.repo', BUILTIN_CONFIG.source.repo], ['source.build', BUILTIN_CONFIG.source.build],
      ['source.buildTimeout', BUILTIN_CONFIG.source.buildTimeout], ['releases.keep', BUILTIN_CONFIG.releases.keep],
      ['prune.deleteRemoved', BUILTIN_CONFIG.prune.deleteRemoved], ['prune.maxShare', BUILTIN_CONFIG.prune.maxShare],
      ['agent.resync', BUILTIN_CONFIG.agent.resync], ['agent.prune', BUILTIN_CONFIG.agent.prune],
      ['agent.concurrency', BUILTIN_CONFIG.agent.concurrency], ['agent.debounce', BUILTIN_CONFIG.agent.debounce],
      ['agent.git.pull', BUILTIN_CONFIG.agent.git.pull], ['agent.git.interval', BUILTIN_CONFIG.agent.git.interval],
      ['agent.listen', BUILTIN_CONFIG.agent.listen], ['agent.shutdownTimeout', BUILTIN_CONFIG.agent.shutdownTimeout],
      ['agent.logs.maxSize', BUILTIN_CONFIG.agent.logs.maxSize], ['agent.logs.keep', BUILTIN_CONFIG.agent.logs.keep],
      ['agent.logs.interval', BUILTIN_CONFIG.agent.logs.interval], ['systemd.scope', BUILTIN_CONFIG.systemd.scope],
      ['systemd.output', BUILTIN_CONFIG.systemd.output], ['systemd.restartSec', BUILTIN_CONFIG.systemd.restartSec],
      ['systemd.stopTimeout', BUILTIN_CONFIG.systemd.stopTimeout], ['launchd.labelPrefix', BUILTIN_CONFIG.launchd.labelPrefix],
      ['launchd.scope', BUILTIN_CONFIG.launchd.scope], ['docker.discovery.enabled', BUILTIN_CONFIG.docker.discovery.enabled],
    ];
    for (const [key, value] of rows) expect(doc, key).toContain(`| \`${key}\` | \`${String(value)}\` |`);
    // No label and no metric names are built in (examples of a past user's; issue 14).
    expect(BUILTIN_CONFIG.docker.discovery.label).toBe('');
    expect(BUILTIN_CONFIG.metrics).toEqual({});
    for (const key of ['docker.discovery.label', 'metrics.projects', 'metrics.sessions']) expect(doc, key).toContain(`| \`${key}\` | (none) |`);
  });
});

/** Files under `dir` (repository-relative), recursively. */
function walk(dir: string): string[] {
  return readdirSync(join(REPO, dir)).flatMap((n) => {
    const path = `${dir}/${n}`;
    return statSync(join(REPO, path)).isDirectory() ? walk(path) : [path];
  });
}

describe('examples', () => {
  const roots = walk('examples').filter((f) => f.endsWith('/tend.yaml')).map((f) => dirname(f));

  it('every example root validates without errors or warnings', async () => {
    expect(roots).toEqual(expect.arrayContaining(['examples', 'examples/chat-bridge']));
    for (const root of roots) {
      const r = await tend(['validate', '-C', root]);
      expect(r.stdout, root).toMatch(/^(\d+) of \1 desired files valid; 0 errors, 0 warnings\n$/);
      expect(r.code, root).toBe(0);
    }
  });

  it('examples/instance-configs validate as the desired files of examples/tend.yaml', async () => {
    const r = await tend(['validate', '-C', 'examples'], { env: { ...process.env, TEND_DESIRED_DIR: join(REPO, 'examples/instance-configs') } });
    expect(r.stdout).toBe('2 of 2 desired files valid; 0 errors, 0 warnings\n');
    expect(r.code).toBe(0);
    const json = await tend(['validate', '--json', '-C', 'examples'], { env: { ...process.env, TEND_DESIRED_DIR: join(REPO, 'examples/instance-configs') } });
    const names = (JSON.parse(json.stdout) as { instances: { name: string; runtime: string }[] }).instances.map((i) => `${i.name} ${i.runtime}`);
    expect(names).toEqual(['ant-production systemd', 'internal-tools systemd']);
  });

  it('the chat bridge example has a tmux and a Docker instance', async () => {
    const r = await tend(['validate', '--json', '-C', 'examples/chat-bridge']);
    const runtimes = (JSON.parse(r.stdout) as { instances: { runtime: string }[] }).instances.map((i) => i.runtime).sort();
    expect(runtimes).toEqual(['docker', 'tmux']);
  });

  it('every tend.yaml and desired file starts with a yaml-language-server schema line that resolves to the right schema', () => {
    const files = [
      ...walk('examples').filter((f) => f.endsWith('/tend.yaml') || /\/(desired|instance-configs)\/[^/]+\.ya?ml$/.test(f)),
      ...walk('desired').filter((f) => /\.ya?ml$/.test(f)),
    ];
    expect(files.length).toBeGreaterThanOrEqual(9);
    for (const file of files) {
      const first = read(file).split('\n')[0]!;
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, file).not.toBeNull();
      const target = resolve(REPO, dirname(file), m![1]!);
      const want = file.endsWith('tend.yaml') ? 'schemas/tend.schema.json' : 'schemas/instance.schema.json';
      expect(relative(REPO, target), file).toBe(want);
      expect(existsSync(target)).toBe(true);
    }
  });
});

const tmuxH = harnesses.find((x) => x.runtime === 'tmux')!;
const tmuxGate = await backendGate('tmux');

describe.skipIf(tmuxGate.skip)('examples/api/lifecycle.mjs (tmux)', () => {
  const app = `doc${process.pid}${randomBytes(2).toString('hex')}`;
  let root: string;

  beforeAll(async () => {
    tmuxGate.check();
    root = scratch('api-example');
    await fixtureRoot(tmuxH, root, app, { runtimeYaml: `${quietYaml(tmuxH, app)}\ndefaults:\n  runtime: tmux` });
  }, 120_000);

  afterAll(async () => {
    if (root) await tmuxH.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
  }, 60_000);

  it('creates, applies, reads the status of and deletes an instance through the API alone', async () => {
    // The fixture's latest tag (v2.0.0) fails its health check on purpose: name the good one.
    const r = await execa('node', ['examples/api/lifecycle.mjs', '-C', root, '--name', 'svc', '--version', 'v1.1.0'], {
      cwd: REPO, reject: false,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^created desired\/svc\.yaml: v1\.1\.0 on port \d+ \(tmux\)\n/);
    expect(r.stdout).toContain('+ create svc (tmux, v1.1.0)');
    expect(r.stdout).toContain('apply: exit code 0\n');
    expect(r.stdout).toMatch(/status: svc Ready v1\.1\.0 http:\/\/localhost:\d+\n/);
    expect(r.stdout).toMatch(new RegExp(`\\ndeleted: tmux session ${app}-svc, desired/svc\\.yaml\\n?$`));
    expect(r.exitCode).toBe(0);
    // Nothing is left: no desired file, no instance directory, no session.
    expect(readdirSync(join(root, 'desired'))).toEqual([]);
    expect(existsSync(join(root, 'instances', 'svc'))).toBe(false);
    const sessions = await execa('tmux', ['-L', tmuxSocketOf(root), 'list-sessions', '-F', '#{session_name}'], { reject: false });
    expect(sessions.stdout.split('\n')).not.toContain(`${app}-svc`);
  }, 120_000);
});

/** The tmux socket the fixture root's tend.yaml names. */
function tmuxSocketOf(root: string): string {
  return /^\s*socket: (\S+)$/m.exec(readFileSync(join(root, 'tend.yaml'), 'utf8'))![1]!;
}
