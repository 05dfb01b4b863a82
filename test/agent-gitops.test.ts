// `tend agent` with `agent.git.pull` on real git repositories (a local bare remote) and real tmux:
// a pushed version bump is pulled and converged; a diverged local branch is reported and left alone.
// Also: `tend agent --once`, and a stale agent lock (dead PID) taken over with a warning.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { fixtureRoot, harnesses, quietYaml } from './drivers/contract-backends.js';
import { freePort, httpGet } from './fixtures/app.js';
import { startAgent, until, type AgentProc } from './helpers/agent-proc.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const h = harnesses.find((x) => x.runtime === 'tmux')!;
const gate = await backendGate('tmux');

const git = async (cwd: string, args: string[]) => {
  const r = await execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd, reject: false, env: { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};

describe.skipIf(gate.skip)('tend agent with git pull (real bare remote, real tmux)', () => {
  const app = `gp${process.pid}${randomBytes(3).toString('hex')}`;
  let root: string;
  let other: string;
  let port: number;
  let agent: AgentProc | undefined;
  const web = (version: string) => ['version: ' + version, 'runtime: tmux', `port: ${port}`, 'health:', '  http: /health', '  timeout: 4s', '  interval: 200ms', ''].join('\n');
  const version = async () => (await httpGet(`http://127.0.0.1:${port}/version`, 1000)).body.trim();

  beforeAll(async () => {
    gate.check();
    await buildOnce();
    const base = scratch('agent-git');
    root = join(base, 'deploy');
    await execa('mkdir', ['-p', root]);
    const agentYaml = ['agent:', '  listen: 127.0.0.1:0', '  git:', '    pull: true', '    interval: 500ms'].join('\n');
    await fixtureRoot(h, root, app, { runtimeYaml: `${quietYaml(h, app)}\n${agentYaml}` });
    port = await freePort();
    writeFileSync(join(root, 'desired', 'web.yaml'), web('v1.0.0'));
    writeFileSync(join(root, '.gitignore'), 'app/\ninstances/\nreleases/\n');
    await git(base, ['init', '--bare', '-b', 'main', 'remote.git']);
    await git(root, ['init', '-b', 'main']);
    await git(root, ['add', '.gitignore', 'tend.yaml', 'desired']);
    await git(root, ['commit', '-m', 'web v1.0.0']);
    await git(root, ['remote', 'add', 'origin', join(base, 'remote.git')]);
    await git(root, ['push', '-u', 'origin', 'main']);
    other = join(base, 'other');
    await git(base, ['clone', '-b', 'main', join(base, 'remote.git'), other]);
  }, 60_000);

  afterAll(async () => {
    await agent?.stop('SIGKILL').catch(() => undefined);
    await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!).catch(() => undefined);
  }, 60_000);

  it('tend agent --once runs one full reconcile and exits with its code', async () => {
    const r = await tend(['-C', root, 'agent', '--once', '--no-pretty'], { timeout: 90_000 });
    expect(r.code).toBe(0);
    expect(await version()).toBe('v1.0.0');
    const done = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; exitCode?: number }).find((l) => l.exitCode !== undefined);
    expect(done?.msg).toBe('reconcile done: exit 0');
  }, 120_000);

  it('a stale agent lock (its PID is gone) is taken over with a warning', async () => {
    const dead = await execa('node', ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(join(root, 'instances', '.agent.lock'), JSON.stringify({ pid: Number(dead.stdout), hostname: (await execa('hostname')).stdout.trim(), startedAt: new Date(0).toISOString(), purpose: 'tend agent' }));
    agent = await startAgent(root);
    expect(agent.lines.some((l) => l.level === 40 && /took over the agent lock of a process that is gone \(pid \d+\)/.test(l.msg))).toBe(true);
    await until('web Ready', async () => (await agent!.row('web'))?.phase === 'Ready');
  }, 60_000);

  it('a commit pushed to the remote that bumps the version is pulled and converged', async () => {
    writeFileSync(join(other, 'desired', 'web.yaml'), web('v1.1.0'));
    await git(other, ['commit', '-am', 'web v1.1.0']);
    await git(other, ['push', 'origin', 'main']);
    await until('web on v1.1.0', async () => (await version().catch(() => '')) === 'v1.1.0', 60_000);
    expect(await git(root, ['rev-parse', 'HEAD'])).toBe(await git(other, ['rev-parse', 'HEAD']));
    await until('web Ready on v1.1.0', async () => {
      const r = await agent!.row('web');
      return r?.phase === 'Ready' && r.observedVersion === 'v1.1.0';
    });
    expect((await agent!.status()).agent.warnings).toEqual([]);
  }, 90_000);

  it('a diverged local branch is reported and left alone', async () => {
    writeFileSync(join(root, 'NOTES'), 'a local commit\n');
    await git(root, ['add', 'NOTES']);
    await git(root, ['commit', '-m', 'local only']);
    const localHead = await git(root, ['rev-parse', 'HEAD']);
    writeFileSync(join(other, 'desired', 'web.yaml'), web('v1.0.0'));
    await git(other, ['commit', '-am', 'web back to v1.0.0']);
    await git(other, ['push', 'origin', 'main']);
    const warnings = await until('a diverged warning', async () => {
      const w = (await agent!.status()).agent.warnings;
      return w.some((x) => /diverged/.test(x)) ? w : undefined;
    });
    expect(warnings.join('\n')).toMatch(/1 commit ahead and 1 behind origin\/main/);
    expect(await git(root, ['rev-parse', 'HEAD'])).toBe(localHead);
    expect(await git(root, ['status', '--porcelain'])).toBe('');
    expect(await version()).toBe('v1.1.0');
    // The page shows it too.
    const page = await httpGet(`${agent!.url}/`);
    expect(page.body).toMatch(/diverged/);
  }, 60_000);
});
