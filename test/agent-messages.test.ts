// Issue 14, point 8, the agent's side, with a real `tend agent` (agent.git.pull on a real bare remote)
// on systemd, tmux and Docker: each reconcile line says what was done and why (the restart of a spec
// change names the field); a desired file with errors is logged at warn with the diagnostics' own text
// (file, line, the unknown key), not only `has errors`; a pull that changes nothing tend reads (a
// README) is not logged above debug.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { fixtureRoot, harnesses, quietYaml } from './drivers/contract-backends.js';
import { freePort, httpGet } from './fixtures/app.js';
import { startAgent, until, type AgentProc, type LogLine } from './helpers/agent-proc.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

const git = async (cwd: string, args: string[]) => {
  const r = await execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd, reject: false, env: { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};

for (const h of harnesses.filter((x) => x.runtime !== 'launchd')) {
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`tend agent messages on ${h.title}`, () => {
    const app = `am${h.runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let other: string;
    let port: number;
    let agent: AgentProc | undefined;
    const web = (extra: string[] = []) => [
      'version: v1.0.0', `runtime: ${h.runtime}`, `port: ${port}`, 'health:', '  http: /health', '  timeout: 10s', '  interval: 200ms',
      h.instanceExtra ?? '', ...extra, '',
    ].join('\n');
    const push = async (files: Record<string, string>, message: string) => {
      for (const [path, text] of Object.entries(files)) writeFileSync(join(other, path), text);
      await git(other, ['add', '--all']);
      await git(other, ['commit', '-m', message]);
      await git(other, ['push', 'origin', 'main']);
      return git(other, ['rev-parse', 'HEAD']);
    };
    const webLine = (from: number, test: (l: LogLine) => boolean) => until('a log line', () => agent!.since(from).find((l) => l.instance === 'web' && test(l)), 90_000);

    beforeAll(async () => {
      gate.check();
      await buildOnce();
      const base = scratch(`agent-msg-${h.runtime}`);
      root = join(base, 'deploy');
      mkdirSync(root);
      const agentYaml = ['agent:', '  listen: 127.0.0.1:0', '  git:', '    pull: true', '    interval: 500ms'].join('\n');
      await fixtureRoot(h, root, app, { runtimeYaml: `${quietYaml(h, app)}\n${agentYaml}` });
      port = await freePort();
      writeFileSync(join(root, 'desired', 'web.yaml'), web());
      writeFileSync(join(root, '.gitignore'), 'app/\ninstances/\nreleases/\n');
      writeFileSync(join(root, 'README.md'), 'the deployment\n');
      await git(base, ['init', '--bare', '-b', 'main', 'remote.git']);
      await git(root, ['init', '-b', 'main']);
      await git(root, ['add', '.gitignore', 'tend.yaml', 'desired', 'README.md']);
      await git(root, ['commit', '-m', 'web v1.0.0']);
      await git(root, ['remote', 'add', 'origin', join(base, 'remote.git')]);
      await git(root, ['push', '-u', 'origin', 'main']);
      other = join(base, 'other');
      await git(base, ['clone', '-b', 'main', join(base, 'remote.git'), other]);
    }, 180_000);

    afterAll(async () => {
      const stopped = await agent?.stop();
      await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
      expect(stopped?.code ?? 0).toBe(0);
    }, 120_000);

    it('the first reconcile says it created web and why; a pull that changes only README.md is logged at debug only', async () => {
      agent = await startAgent(root, {}, ['--log-level', 'debug']);
      const created = await webLine(0, (l) => /^web: reconcile /.test(l.msg));
      expect(created).toMatchObject({ level: 30, result: 'ok', change: 'create' });
      expect(created.msg).toMatch(/^web: reconcile ok: create \(.+\): .*verify-health/);
      expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim()).toBe('v1.0.0');

      const mark = agent.lines.length;
      const head = await push({ 'README.md': 'the deployment, described\n' }, 'a README edit');
      const pulled = await until('the pull of the README edit', () => agent!.since(mark).find((l) => /fast-forwarded/.test(l.msg)), 60_000);
      expect(await git(root, ['rev-parse', 'HEAD'])).toBe(head);
      expect(pulled.msg).toMatch(/0 desired files changed/);
      expect(pulled.level).toBe(20);
      expect(agent.since(mark).filter((l) => l.level >= 30 && /fast-forwarded|README/.test(l.msg))).toEqual([]);
    }, 240_000);

    it('a pulled env change restarts web, and the reconcile line says so: reconfigure (spec changed (...); changed: env.GREETING)', async () => {
      const mark = agent!.lines.length;
      await push({ 'desired/web.yaml': web(['env:', '  GREETING: hello']) }, 'web: GREETING');
      // A reconcile that found nothing to do (the watcher saw the same pull) says only `web: reconcile ok`.
      const line = await webLine(mark, (l) => /^web: reconcile /.test(l.msg) && l.result !== 'cancelled' && l.msg !== 'web: reconcile ok');
      expect(line).toMatchObject({ level: 30, result: 'ok', change: 'reconfigure' });
      expect(line.msg).toMatch(/^web: reconcile ok: reconfigure \(spec changed \([0-9a-f]+ -> [0-9a-f]+\); changed: env\.GREETING\): .*verify-health/);
      expect(line.msg).not.toContain('hello');
    }, 120_000);

    it('a pulled desired file with a typo is logged at warn with the diagnostic itself (file, line, the unknown key)', async () => {
      const mark = agent!.lines.length;
      await push({ 'desired/web.yaml': web(['env:', '  GREETING: hello', 'prot: 8082']) }, 'web: a typo');
      const line = await webLine(mark, (l) => /^web: reconcile failed/.test(l.msg));
      expect(line.level).toBe(40);
      expect(line.msg).toMatch(/^web: reconcile failed: .*desired\/web\.yaml:\d+:\d+: error: .*prot/);
      // Still serving the last good spec.
      expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim()).toBe('v1.0.0');
    }, 120_000);
  });
}
