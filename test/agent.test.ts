// `tend agent` as a real process on real tmux with the fixture app: file edits converge without a
// command, bursts collapse, a newer save abandons a health wait, a broken file is InvalidSpec while
// others converge, a deleted file is an orphan kept running, resync heals drift, SIGTERM mid-wait.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { readHistory } from '../src/state/history.js';
import { fixtureRoot, harnesses, quietYaml } from './drivers/contract-backends.js';
import { freePort, httpGet } from './fixtures/app.js';
import { startAgent, until, type AgentProc } from './helpers/agent-proc.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const h = harnesses.find((x) => x.runtime === 'tmux')!;
const gate = await backendGate('tmux');
const socket = /socket: (\S+)/.exec(h.configYaml('x'))![1]!;

describe.skipIf(gate.skip)('tend agent on tmux (real agent process, real tmux server)', () => {
  const app = `ag${process.pid}${randomBytes(3).toString('hex')}`;
  let root: string;
  const ports: Record<string, number> = {};
  let agent: AgentProc | undefined;

  const desire = (name: string, version: string, healthTimeout = '4s') => writeFileSync(join(root, 'desired', `${name}.yaml`), [
    `version: ${version}`, 'runtime: tmux', `port: ${ports[name]}`,
    'health:', '  http: /health', `  timeout: ${healthTimeout}`, '  interval: 200ms', '',
  ].join('\n'));
  const version = async (name: string) => (await httpGet(`http://127.0.0.1:${ports[name]}/version`, 1000)).body.trim();
  const serving = (name: string, v: string) => until(`${name} serving ${v}`, async () => (await version(name).catch(() => '')) === v, 60_000);
  const ready = (name: string, v: string, timeoutMs = 60_000) => until(`${name} Ready on ${v} in /status`, async () => {
    const r = await agent!.row(name);
    return r?.phase === 'Ready' && r.observedVersion === v ? r : undefined;
  }, timeoutMs);
  const reconcilesOf = (name: string, mark: number) => agent!.since(mark).filter((l) => l.instance === name && typeof l.result === 'string');

  beforeAll(async () => {
    gate.check();
    await buildOnce();
    root = scratch('agent');
    const agentYaml = ['agent:', '  listen: 127.0.0.1:0', '  debounce: 100ms', '  resync: "*/2 * * * * *"', '  concurrency: 2',
      '  logs:', '    maxSize: 1K', '    keep: 2', '    interval: 1s'].join('\n');
    await fixtureRoot(h, root, app, { runtimeYaml: `${quietYaml(h, app)}\n${agentYaml}` });
    ports.web = await freePort();
    ports.api = await freePort();
    desire('web', 'v1.0.0');
    desire('api', 'v1.0.0');
  }, 60_000);

  afterAll(async () => {
    await agent?.stop('SIGKILL').catch(() => undefined);
    await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!).catch(() => undefined);
  }, 60_000);

  it('starts: the first resync creates both instances; /healthz answers', async () => {
    agent = await startAgent(root);
    expect((await httpGet(`${agent.url}/healthz`)).status).toBe(200);
    await ready('web', 'v1.0.0', 90_000);
    await ready('api', 'v1.0.0');
    expect(await version('web')).toBe('v1.0.0');
  }, 120_000);

  it('a second agent on the same root refuses to start (exit 1, names the holder)', async () => {
    const r = await tend(['-C', root, 'agent', '--listen', '127.0.0.1:0', '--no-pretty'], { timeout: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`another tend agent runs on this root \\(pid ${agent!.pid} `));
  }, 60_000);

  it('editing a version converges without any command; ten saves in a row reconcile at most twice', async () => {
    const mark = agent!.lines.length;
    for (let i = 0; i < 10; i++) {
      writeFileSync(join(root, 'desired', 'web.yaml'), `${readFileSync(join(root, 'desired', 'web.yaml'), 'utf8').replace(/^# save \d+\n/m, '')}# save ${i}\n`);
      await new Promise((r) => setTimeout(r, 20));
    }
    desire('web', 'v1.1.0');
    await ready('web', 'v1.1.0');
    expect(await version('web')).toBe('v1.1.0');
    // Let a late run (if any) finish before counting.
    await until('the queue to drain', async () => (await agent!.status()).agent.queueDepth === 0);
    const runs = reconcilesOf('web', mark);
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.length).toBeLessThanOrEqual(2);
    const hist = readHistory(join(root, 'instances', 'web', '.version-history')).map((e) => `${e.version} ${e.outcome} ${e.updatedBy}`);
    expect(hist).toEqual(['v1.0.0 healthy agent', 'v1.1.0 healthy agent']);
  }, 90_000);

  it('saving a new version while the previous one waits for health abandons the wait and converges on the newest', async () => {
    const mark = agent!.lines.length;
    desire('web', 'v2.0.0', '60s'); // v2.0.0 answers /health with 500: the wait would last 60 s
    await serving('web', 'v2.0.0');
    const saved = Date.now();
    desire('web', 'v1.0.0');
    await ready('web', 'v1.0.0');
    expect(Date.now() - saved).toBeLessThan(45_000);
    expect(agent!.since(mark).some((l) => l.instance === 'web' && /work abandoned/.test(l.msg))).toBe(true);
    const hist = readHistory(join(root, 'instances', 'web', '.version-history'));
    expect(hist.some((e) => e.version === 'v2.0.0' && e.outcome === 'healthy')).toBe(false);
    expect((await agent!.row('web'))?.lastReconcile?.result).toBe('ok');
  }, 90_000);

  it('a broken desired file: that instance is InvalidSpec and keeps running; an edit of another still converges', async () => {
    writeFileSync(join(root, 'desired', 'web.yaml'), 'version: [v1.1.0\nruntime: tmux\n');
    desire('api', 'v1.1.0');
    await ready('api', 'v1.1.0');
    const web = await until('web InvalidSpec', async () => {
      const r = await agent!.row('web');
      return r?.phase === 'InvalidSpec' ? r : undefined;
    });
    expect(web.message).toMatch(/web\.yaml/);
    expect(await version('web')).toBe('v1.0.0');
    desire('web', 'v1.0.0');
    await ready('web', 'v1.0.0');
  }, 90_000);

  it('a deleted desired file with deletion off: orphan in status, nothing deleted', async () => {
    rmSync(join(root, 'desired', 'api.yaml'));
    const row = await until('api reported as an orphan', async () => {
      const r = await agent!.row('api');
      return r && /orphan/.test(r.message ?? '') ? r : undefined;
    });
    expect(row.phase).not.toBe('InvalidSpec');
    // Several resyncs later (every 2 s) it still runs.
    await new Promise((r) => setTimeout(r, 5000));
    expect(await version('api')).toBe('v1.1.0');
    expect(existsSync(join(root, 'instances', 'api'))).toBe(true);
  }, 60_000);

  it('/metrics counts reconciles and shows each phase; / lists the instances', async () => {
    const text = (await httpGet(`${agent!.url}/metrics`)).body;
    const ok = /^tend_reconciles_total\{instance="web",result="ok"\} (\d+)$/m.exec(text);
    expect(Number(ok?.[1])).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^tend_instance_phase\{instance="web",phase="Ready"\} 1$/m);
    expect(text).toMatch(/^tend_resyncs_total \d+$/m);
    // v1.0.0, v1.1.0 and v2.0.0 were built by this agent.
    expect(Number(/^tend_builds_total\{result="ok"\} (\d+)$/m.exec(text)?.[1])).toBe(3);
    const page = (await httpGet(`${agent!.url}/`)).body;
    expect(page).toMatch(/data-instance="web"/);
    expect(page).toMatch(/data-instance="api"/);
  });

  it('log files over agent.logs.maxSize are rotated (copy-truncate) and capped at keep copies', async () => {
    const file = join(root, 'instances', 'web', 'logs', 'chatty.log');
    for (let i = 0; i < 4; i++) {
      writeFileSync(file, 'x'.repeat(3000) + '\n', { flag: 'a' });
      await until(`rotation ${i + 1}`, () => existsSync(file) && statSync(file).size === 0, 10_000);
    }
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(existsSync(`${file}.2`)).toBe(true);
    expect(existsSync(`${file}.3`)).toBe(false);
    expect(agent!.lines.some((l) => l.msg === `log rotated: ${file}`)).toBe(true);
  }, 60_000);

  it('resync heals an instance stopped behind tend\'s back', async () => {
    const startedAt = async () => ((await agent!.row('web')) as { process?: { startedAt?: string } } | undefined)?.process?.startedAt;
    const before = await startedAt();
    expect(before).toBeTruthy();
    const mark = agent!.lines.length;
    const kill = await execa('tmux', ['-L', socket, 'kill-session', '-t', `=${app}-web`], { reject: false });
    expect(kill.exitCode).toBe(0);
    // Back by a resync (every 2 s): a new process, queued by the resync, not by a file event.
    await until('web restarted', async () => {
      const r = await agent!.row('web');
      return r?.phase === 'Ready' && (await startedAt()) !== undefined && (await startedAt()) !== before;
    });
    await serving('web', 'v1.0.0');
    expect(agent!.since(mark).some((l) => /^resync \(schedule\): [1-9]\d* instance\(s\) queued/.test(l.msg))).toBe(true);
  }, 60_000);

  it('tend restart --no-apply records a request; the agent sees requests.json and restarts the instance', async () => {
    const before = (await agent!.row('web')) as { process?: { startedAt?: string } } | undefined;
    expect(before?.process?.startedAt).toBeTruthy();
    const mark = agent!.lines.length;
    const r = await tend(['-C', root, 'restart', 'web', '--no-apply']);
    expect(r.code).toBe(0);
    await until('the request noticed', () => agent!.since(mark).some((l) => l.instance === 'web' && /a request was recorded/.test(l.msg)));
    await until('web restarted', async () => {
      const row = (await agent!.row('web')) as { phase: string; process?: { startedAt?: string } } | undefined;
      return row?.phase === 'Ready' && row.process?.startedAt !== undefined && row.process.startedAt !== before!.process!.startedAt;
    });
    expect(await version('web')).toBe('v1.0.0');
  }, 60_000);

  it('SIGTERM during a health wait exits 0 within the bound; the next start converges', async () => {
    desire('web', 'v2.0.0', '60s');
    await serving('web', 'v2.0.0');
    const { code, ms } = await agent!.stop('SIGTERM');
    agent = undefined;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(30_000);
    expect(existsSync(join(root, 'instances', '.agent.lock'))).toBe(false);
    // v2.0.0 was never recorded healthy: the restarted agent checks it, holds it and rolls back.
    desire('web', 'v2.0.0', '3s');
    agent = await startAgent(root);
    const row = await until('web rolled back', async () => {
      const r = await agent!.row('web');
      return r?.phase === 'RolledBack' && r.observedVersion === 'v1.0.0' ? r : undefined;
    }, 60_000);
    expect(row.message).toMatch(/rolled back to v1\.0\.0/);
    expect(await version('web')).toBe('v1.0.0');
  }, 120_000);

  it('after a reboot (tmux server gone, agent started again) the agent recreates the sessions', async () => {
    desire('web', 'v1.1.0');
    await ready('web', 'v1.1.0');
    expect((await agent!.stop('SIGTERM')).code).toBe(0);
    agent = undefined;
    expect((await execa('tmux', ['-L', socket, 'kill-server'], { reject: false })).exitCode).toBe(0);
    // The panes' processes get SIGHUP from the dying server; under load they take a moment to go.
    await until('web down with its tmux server', async () => (await version('web').catch(() => 'down')) === 'down', 10_000);
    agent = await startAgent(root);
    await serving('web', 'v1.1.0');
    await ready('web', 'v1.1.0');
  }, 120_000);
});
