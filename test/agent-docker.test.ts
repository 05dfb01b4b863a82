// `tend agent` while the Docker Engine goes away and comes back. The agent reaches the real Engine
// through a unix-socket proxy (DOCKER_HOST); closing the proxy removes the socket the agent talks to,
// which is what the agent sees when the engine stops, without stopping the engine other tests use.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { fixtureRoot, harnesses, quietYaml } from './drivers/contract-backends.js';
import { freePort, httpGet } from './fixtures/app.js';
import { startAgent, until, type AgentProc } from './helpers/agent-proc.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce } from './helpers/cli.js';
import { countingProxy, type CountingProxy } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const h = harnesses.find((x) => x.runtime === 'docker')!;
const gate = await backendGate('docker');

describe.skipIf(gate.skip)('tend agent: Docker socket gone and back (proxy to the real engine)', () => {
  const app = `ad${process.pid}${randomBytes(3).toString('hex')}`;
  let root: string;
  let proxyDir: string;
  let proxy: CountingProxy | undefined;
  let port: number;
  let agent: AgentProc | undefined;
  let image: string | undefined;

  beforeAll(async () => {
    gate.check();
    await buildOnce();
    root = scratch('agent-docker');
    proxyDir = scratch('agent-docker-proxy');
    const agentYaml = ['agent:', '  listen: 127.0.0.1:0', '  resync: "*/2 * * * * *"'].join('\n');
    ({ image } = await fixtureRoot(h, root, app, { runtimeYaml: `${quietYaml(h, app)}\n${agentYaml}` }));
    port = await freePort();
    writeFileSync(join(root, 'desired', 'web.yaml'), ['version: v1.0.0', 'runtime: docker', `port: ${port}`, 'health:', '  http: /health', '  timeout: 10s', '  interval: 250ms', ''].join('\n'));
    proxy = await countingProxy(proxyDir);
  }, 120_000);

  afterAll(async () => {
    await agent?.stop('SIGKILL').catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!).catch(() => undefined);
    if (image) await h.removeImage?.(image).catch(() => undefined);
  }, 60_000);

  it('converges through the proxy; socket gone: agent up, instance Unknown; socket back: recovers without a restart', async () => {
    agent = await startAgent(root, { DOCKER_HOST: `unix://${proxy!.socketPath}` });
    await until('web Ready', async () => (await agent!.row('web'))?.phase === 'Ready', 120_000);
    expect(proxy!.requests.length).toBeGreaterThan(0);

    await proxy!.close();
    proxy = undefined;
    const down = await until('web Unknown', async () => {
      const r = await agent!.row('web');
      return r?.phase === 'Unknown' ? r : undefined;
    }, 30_000);
    expect(down.message).toMatch(/runtime not observable/);
    expect((await httpGet(`${agent.url}/healthz`)).status).toBe(200);
    expect((await agent.status()).agent.warnings.join('\n')).toMatch(/docker is not available/);

    proxy = await countingProxy(proxyDir);
    const back = await until('web Ready again', async () => {
      const r = await agent!.row('web');
      return r?.phase === 'Ready' ? r : undefined;
    }, 60_000);
    expect(back.observedVersion).toBe('v1.0.0');
    expect((await agent.status()).agent.warnings).toEqual([]);
    expect(agent.lines.some((l) => /docker is back/.test(l.msg))).toBe(true);
    expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim()).toBe('v1.0.0');
  }, 240_000);
});
