// The Docker driver against the real Docker Engine, running the fixture app's release image (no mocks).
import { mkdirSync, writeFileSync } from 'node:fs';
import { loose } from '../helpers/planner-fixtures.js';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltRelease, InstanceSpec, ObservedItem, RuntimeObservation, TendConfig } from '../../src/model/types.js';
import type { RuntimeAction, RuntimeActionType } from '../../src/model/plan.js';
import { createDockerDriver } from '../../src/drivers/docker/index.js';
import { drivers } from '../../src/drivers/registry.js';
import type { ApplyContext, DriverPaths } from '../../src/drivers/types.js';
import { readAdoptionRecord, writeAdoptionRecord } from '../../src/state/adopted.js';
import { readInstanceStates } from '../../src/observe/instances.js';
import { readBuiltReleases } from '../../src/observe/releases.js';
import { specHash } from '../../src/shared/hash.js';
import { plan } from '../../src/planner/plan.js';
import { buildRelease } from '../../src/release/build.js';
import { backendGate } from '../helpers/backends.js';
import {
  busyboxImage, countingProxy, engine, removeContainers, removeContainersLabelled, removeImages, sleeper, uniqueName, type CountingProxy,
} from '../helpers/docker.js';
import { config as makeConfig, desired, resolved, spec as makeSpec, validEntry } from '../helpers/planner-fixtures.js';
import { useScratch } from '../helpers/scratch.js';
import { freePort, httpGet, makeFixtureRepo, waitForHttp } from '../fixtures/app.js';

const gate = await backendGate('docker');
const scratch = useScratch();
const VERSIONS = ['v1.0.0', 'v1.1.0'] as const;

/** Polls `fn` until it returns a value; `last` describes the state seen last when it times out. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, last: () => unknown = () => '', timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(gate.skip)('docker driver on the real Docker Engine', () => {
  const app = uniqueName('tdk');
  const imageName = `${app}-build:latest`;
  const driver = createDockerDriver({ stopTimeoutSeconds: 2 });
  let docker: Docker;
  let cfg: TendConfig;
  let paths: DriverPaths;
  let spec: InstanceSpec;
  const releases: Record<string, BuiltRelease & { dir: string; imageId: string }> = {};
  const extraContainers: string[] = [];
  const secret = `s3cret-${uniqueName('v')}`;

  const name = `${app}-web`;
  const url = (path: string, port = spec.port) => `http://127.0.0.1:${port}${path}`;
  const ctx = (s: InstanceSpec = spec, version: string = s.version): ApplyContext => ({ config: cfg, paths, spec: s, release: releases[version]! });
  const hashOf = (s: InstanceSpec) => specHash(s, releases[s.version]!.commit, 'env');
  const action = (type: RuntimeActionType, s: InstanceSpec = spec, target = `${app}-${s.name}`): RuntimeAction => ({
    id: `${s.name}/${type}@docker`, type, instance: s.name, change: 'update', runtime: 'docker', target, version: s.version,
    specHash: hashOf(s), reason: 'test', disruption: 'none', dependsOn: [],
  });
  const apply = (type: RuntimeActionType, s: InstanceSpec = spec) => driver.apply(action(type, s), ctx(s));
  const observe = async (): Promise<RuntimeObservation & { status: 'ok' }> => {
    const obs = await driver.observe({ config: cfg, paths });
    if (obs.status !== 'ok') throw new Error(`observe: ${obs.reason}`);
    return obs;
  };
  /** This app's items only (other test files' containers may be discovered meanwhile). */
  const mine = async (): Promise<ObservedItem[]> => (await observe()).items.filter((i) => i.id.startsWith(`${app}-`) || i.owned);
  const item = async (id = name) => (await mine()).find((i) => i.id === id);
  const containerId = async (n = name) => (await docker.getContainer(n).inspect()).Id;

  beforeAll(async () => {
    gate.check();
    docker = engine();
    const dir = scratch('docker-driver');
    const fixture = await makeFixtureRepo(join(dir, 'repo'), { image: imageName });
    paths = { root: dir, desired: join(dir, 'desired'), releases: join(dir, 'releases'), instances: join(dir, 'instances') };
    // A discovery label of this file's own, so other test files' containers are never taken for ours.
    cfg = makeConfig({ app, source: { repo: fixture.repo, image: imageName, artifacts: ['bin/oubliette'] }, docker: { discovery: { enabled: true, label: `${app}.instance` } } });
    cfg.source.run = { artifact: 'bin/oubliette', args: ['--port', '${port}', '--config', '${configPath}'] };
    for (const version of VERSIONS) {
      const r = await buildRelease({ paths, config: cfg, version, commit: fixture.tags[version] });
      releases[version] = { version, commit: r.manifest.commit, valid: true, imageId: r.manifest.image!.id, dir: r.dir };
    }
    spec = makeSpec('web', { runtime: 'docker', version: 'v1.1.0', port: await freePort(), env: { GREETING: 'hello' } });
    mkdirSync(join(paths.instances, 'web'), { recursive: true });
    writeFileSync(join(paths.instances, 'web', '.env'), `SECRET_TOKEN=${secret}\n`, { mode: 0o600 });
    writeFileSync(join(paths.instances, 'web', 'config.yaml'), 'motd: mounted\n');
  }, 120_000);

  afterAll(async () => {
    if (!docker) return;
    await removeContainersLabelled(docker, [`tend.app=${app}`]);
    await removeContainers(docker, [`${app}-lookalike`, ...extraContainers]);
    await removeImages(docker, [imageName, ...VERSIONS.map((v) => `${app}:${v}`), ...Object.values(releases).map((r) => r.imageId)]);
  });

  it('observes no container of a new app, and lists the image ids the Engine has', async () => {
    const obs = await observe();
    expect(obs.items.filter((i) => i.id.startsWith(`${app}-`))).toEqual([]);
    expect(obs.images).toEqual(expect.arrayContaining([releases['v1.1.0']!.imageId]));
  });

  it('reports a look-alike container it did not make as not owned (named by its discovery label when it has one)', async () => {
    await sleeper(docker, releases['v1.1.0']!.imageId, { name: `${app}-lookalike` });
    extraContainers.push(`${app}-labelled`);
    await sleeper(docker, releases['v1.1.0']!.imageId, { name: `${app}-labelled`, labels: { [`${app}.instance`]: 'named' } });
    expect(await mine()).toEqual([
      expect.objectContaining({ runtime: 'docker', id: `${app}-labelled`, instance: 'named', owned: false, state: 'running' }),
      expect.objectContaining({ runtime: 'docker', id: `${app}-lookalike`, instance: 'lookalike', owned: false, state: 'running' }),
    ]);
    await removeContainers(docker, [`${app}-labelled`]);
  });

  it('create-container makes an owned container that is not started; start runs the release image', async () => {
    await apply('create-container');
    expect(await item()).toMatchObject({
      id: name, instance: 'web', owned: true, state: 'stopped', version: 'v1.1.0', specHash: hashOf(spec), imageId: releases['v1.1.0']!.imageId,
    });
    await apply('start');
    expect(await item()).toMatchObject({ state: 'running', specHash: hashOf(spec) });
    expect((await waitForHttp(url('/health'))).status).toBe(200);
    expect((await httpGet(url('/version'))).body.trim()).toBe('v1.1.0');
    expect((await httpGet(url('/env/GREETING'))).body).toBe('hello');
    expect((await httpGet(url('/env/SECRET_TOKEN'))).body).toBe(secret);
    expect((await httpGet(url('/env/TEND_INSTANCE'))).body).toBe('web');
    // Inside, the process sees the container's side: port 8080, all addresses, the instance dir at /instance.
    expect((await httpGet(url('/env/TEND_PORT'))).body).toBe('8080');
    expect((await httpGet(url('/env/TEND_ADDRESS'))).body).toBe('0.0.0.0');
    expect((await httpGet(url('/env/TEND_INSTANCE_DIR'))).body).toBe('/instance');
    expect((await httpGet(url('/args'))).body).toBe('--port\n8080\n--config\n/instance/config.yaml\n');
    expect((await httpGet(url('/config'))).body).toBe('motd: mounted\n');
    const info = await docker.getContainer(name).inspect();
    expect(info.Config.Labels).toMatchObject({ 'tend.app': app, 'tend.instance': 'web', 'tend.version': 'v1.1.0', 'tend.spec-hash': hashOf(spec) });
    expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
    expect(info.HostConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(spec.port) }] });
    expect(info.Config.Image).toBe(`${app}:v1.1.0`);
    expect(JSON.stringify(info.Config.Labels)).not.toContain(secret);
  });

  it('applying the same create-container and start again changes nothing (same container, still running)', async () => {
    const id = await containerId();
    const started = (await docker.getContainer(name).inspect()).State.StartedAt;
    await apply('create-container');
    await apply('start');
    expect(await containerId()).toBe(id);
    expect((await docker.getContainer(name).inspect()).State.StartedAt).toBe(started);
    expect(await item()).toMatchObject({ state: 'running', specHash: hashOf(spec) });
  });

  it('an env change (stop, create-container, start, as planned) replaces the container; /env reports the new value', async () => {
    const old = await containerId();
    spec = { ...spec, env: { GREETING: 'bye now' } };
    await apply('stop');
    await apply('create-container');
    expect(await item()).toMatchObject({ state: 'stopped', specHash: hashOf(spec) });
    await apply('start');
    expect(await containerId()).not.toBe(old);
    await waitForHttp(url('/health'));
    expect((await httpGet(url('/env/GREETING'))).body).toBe('bye now');
    await expect(docker.getContainer(old).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('a port change: the new port answers, the old one not', async () => {
    const oldPort = spec.port;
    spec = { ...spec, port: await freePort() };
    await apply('stop');
    await apply('create-container');
    await apply('start');
    expect((await waitForHttp(url('/health'))).status).toBe(200);
    await expect(httpGet(url('/health', oldPort), 500)).rejects.toThrow();
  });

  it('stop leaves the container stopped (exit 0 after SIGTERM) and the port closed; a second stop is a no-op', async () => {
    await apply('stop');
    expect(await item()).toMatchObject({ owned: true, state: 'stopped', exitStatus: 0 });
    await expect(httpGet(url('/health'), 500)).rejects.toThrow();
    await apply('stop');
    expect(await item()).toMatchObject({ state: 'stopped' });
  });

  it('start runs it again; restart gives a later start time, which observe reports while a restart request is pending', async () => {
    await apply('start');
    await waitForHttp(url('/health'));
    expect((await item())!.startedAt).toBeUndefined(); // no request pending: nothing inspected
    const requestedAt = new Date().toISOString();
    writeFileSync(join(paths.instances, 'web', 'requests.json'), JSON.stringify({ restartRequestedAt: requestedAt }));
    const before = await item();
    expect(before!.startedAt! < requestedAt).toBe(true);
    await apply('restart');
    const after = await item();
    expect(after).toMatchObject({ state: 'running' });
    expect(after!.startedAt! > requestedAt).toBe(true);
    expect((await waitForHttp(url('/health'))).status).toBe(200);
  });

  it('an update to another release creates the new container after the old one stopped, and keeps the old image', async () => {
    const v1 = { ...spec, version: 'v1.0.0' };
    await apply('stop');
    await apply('create-container', v1);
    await apply('start', v1);
    await waitForHttp(url('/health'));
    expect((await httpGet(url('/version'))).body.trim()).toBe('v1.0.0');
    expect(await item()).toMatchObject({ version: 'v1.0.0', imageId: releases['v1.0.0']!.imageId, specHash: hashOf(v1) });
    // Back to v1.1.0 without loading anything: its image is still in the Engine.
    expect((await observe()).images).toEqual(expect.arrayContaining([releases['v1.1.0']!.imageId, releases['v1.0.0']!.imageId]));
    await apply('stop', v1);
    await apply('create-container');
    await apply('start');
    await waitForHttp(url('/health'));
    expect((await httpGet(url('/version'))).body.trim()).toBe('v1.1.0');
  });

  it('refuses every action on the look-alike container, which keeps running untouched', async () => {
    const lookalike = makeSpec('lookalike', { runtime: 'docker', version: 'v1.1.0', port: await freePort() });
    const before = await docker.getContainer(`${app}-lookalike`).inspect();
    for (const type of ['create-container', 'start', 'stop', 'restart', 'delete'] as const) {
      await expect(driver.apply(action(type, lookalike), ctx(lookalike))).rejects.toThrow(/not owned by tend/);
    }
    const after = await docker.getContainer(`${app}-lookalike`).inspect();
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    expect(after.State.Running).toBe(true);
    expect(await item(`${app}-lookalike`)).toMatchObject({ owned: false, state: 'running' });
  });

  it('delete stops and removes the container (never an image); a second delete is a no-op', async () => {
    await apply('delete');
    expect(await item()).toBeUndefined();
    await expect(httpGet(url('/health'), 500)).rejects.toThrow();
    await apply('delete');
    expect(await item()).toBeUndefined();
    expect((await observe()).images).toEqual(expect.arrayContaining([releases['v1.1.0']!.imageId, releases['v1.0.0']!.imageId]));
  });

  it('load-image loads the release tar only when the Engine lacks the image (POST /images/load counted at the socket)', async () => {
    const proxy = await countingProxy(scratch('docker-load'));
    const saved = process.env.DOCKER_HOST;
    const r = releases['v1.0.0']!;
    const v1 = { ...spec, version: 'v1.0.0' };
    try {
      process.env.DOCKER_HOST = `unix://${proxy.socketPath}`;
      await apply('load-image', v1);
      expect(proxy.requests.filter((q) => q === 'POST /images/load')).toEqual([]);
      await removeImages(docker, [r.imageId]);
      expect((await observe()).images).not.toContain(r.imageId);
      proxy.reset();
      await apply('load-image', v1);
      expect(proxy.requests.filter((q) => q === 'POST /images/load')).toEqual(['POST /images/load']);
      expect((await observe()).images).toContain(r.imageId);
      expect((await docker.getImage(`${app}:v1.0.0`).inspect()).Id).toBe(r.imageId);
    } finally {
      process.env.DOCKER_HOST = saved;
      if (saved === undefined) delete process.env.DOCKER_HOST;
      await proxy.close();
    }
  });

  it('an adopted container is the instance\'s until the planner replaces it: stopped by its own name, removed, record kept as replaced', async () => {
    const legacyName = `${app}x-legacy`;
    extraContainers.push(legacyName);
    const legacy = validEntry('legacy', { version: 'v1.1.0', port: await freePort() }, 'docker');
    const id = await sleeper(docker, releases['v1.1.0']!.imageId, {
      name: legacyName, publish: { hostPort: legacy.spec.port, containerPort: 8080 },
    });
    writeAdoptionRecord(paths.instances, { instance: 'legacy', containerId: id, container: legacyName, image: 'cc-bridge:v1.1.0', adoptedAt: new Date().toISOString() });
    const obs = await observe();
    expect(obs.items.find((i) => i.id === legacyName)).toMatchObject({ instance: 'legacy', owned: true, state: 'running', version: 'v1.1.0' });
    expect(obs.items.find((i) => i.id === legacyName)!.specHash).toBeUndefined();

    const ds = desired([legacy], { config: cfg });
    const catalog = { resolutions: { 'v1.1.0': resolved('v1.1.0', releases['v1.1.0']!.commit) }, built: readBuiltReleases(paths.releases) };
    const states = readInstanceStates(paths.root, paths.instances, ['legacy']);
    const p = plan(ds, { host: { platform: 'linux' }, runtimes: { docker: obs } }, catalog, states);
    const steps = loose(p.actions).filter((a) => a.instance === 'legacy');
    expect(steps.map((a) => `${a.type} ${a.target ?? ''}`.trim())).toEqual([
      `stop ${legacyName}`, 'write-config', `create-container ${app}-legacy`, `start ${app}-legacy`, `verify-health ${app}-legacy`,
    ]);
    for (const a of steps) {
      if (a.type === 'write-config' || a.type === 'verify-health') continue;
      await driver.apply(a as RuntimeAction, { config: cfg, paths, spec: legacy.spec, release: releases['v1.1.0']! });
    }
    await expect(docker.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(readAdoptionRecord(paths.instances, 'legacy')).toMatchObject({ containerId: id, replacedBy: `${app}-legacy`, replacedAt: expect.any(String) });
    expect((await waitForHttp(url('/health', legacy.spec.port))).status).toBe(200);
    const after = await observe();
    expect(after.items.find((i) => i.id === `${app}-legacy`)).toMatchObject({ instance: 'legacy', owned: true, state: 'running', specHash: steps[2]!.specHash });
    expect(after.items.find((i) => i.id === legacyName)).toBeUndefined();
  });

  it('errors never show env or .env values', async () => {
    // The Engine quotes a bad volume name back; here that name is also an env value, so it must not appear.
    const leaky = `bad$${uniqueName('vol')}`;
    const broken = { ...spec, name: 'broken', docker: { volumes: [`${leaky}:/data`] }, env: { GREETING: leaky } };
    const err = await driver.apply(action('create-container', broken), ctx(broken)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(new RegExp(`^create-container ${app}-broken: .*\\*\\*\\*`));
    expect((err as Error).message).not.toContain(leaky);
    await removeContainers(docker, [`${app}-broken`]);
  });

  it('does not carry out write-config or verify-health, and says so', async () => {
    await expect(apply('write-config' as never)).rejects.toThrow(/does not carry out write-config/);
    await expect(apply('verify-health' as never)).rejects.toThrow(/does not carry out verify-health/);
  });

  it('reports an Engine it cannot reach as unavailable, without throwing', async () => {
    const nowhere = createDockerDriver({ socketPath: join(paths.root, 'no-engine.sock') });
    const obs = await nowhere.observe({ config: cfg, paths });
    expect(obs).toMatchObject({ status: 'unavailable', items: [] });
    expect((obs as { reason: string }).reason).toMatch(/Docker Engine: .*(ENOENT|connect)/);
  });

  it('is the registered docker driver', async () => {
    const registered = await drivers.docker();
    expect(registered.runtime).toBe('docker');
    expect((await registered.observe({ config: cfg, paths })).status).toBe('ok');
  });
});

describe.skipIf(gate.skip)('docker observation cost', () => {
  const app = uniqueName('tdc');
  const image = uniqueName('tend-cost-bb');
  let docker: Docker;
  let proxy: CountingProxy;
  let paths: DriverPaths;
  const cfg = makeConfig({ app });

  beforeAll(async () => {
    gate.check();
    docker = engine();
    const dir = scratch('docker-cost');
    paths = { root: dir, desired: join(dir, 'desired'), releases: join(dir, 'releases'), instances: join(dir, 'instances') };
    await busyboxImage(dir, image);
    proxy = await countingProxy(dir);
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    if (!docker) return;
    await removeContainersLabelled(docker, [`tend.app=${app}`]);
    await removeImages(docker, [image]);
  });

  const makeContainers = (from: number, to: number) => Promise.all(Array.from({ length: to - from }, (_, k) => {
    const i = from + k;
    return sleeper(docker, image, { name: `${app}-i${i}`, labels: { 'tend.app': app, 'tend.instance': `i${i}`, 'tend.spec-hash': `hash${i}` } });
  }));

  it('makes the same Engine API requests with 3 containers as with 30 (counted by a proxy on the socket)', async () => {
    const driver = createDockerDriver({ socketPath: proxy.socketPath });
    const requestsFor = async (): Promise<[string[], RuntimeObservation]> => {
      proxy.reset();
      const obs = await driver.observe({ config: cfg, paths });
      return [[...proxy.requests].sort(), obs];
    };
    await makeContainers(0, 3);
    const [three, obs3] = await requestsFor();
    expect(obs3.items.filter((i) => i.owned)).toHaveLength(3);
    expect(obs3.items.filter((i) => i.owned).every((i) => i.state === 'running')).toBe(true);
    await makeContainers(3, 30);
    const [thirty, obs30] = await requestsFor();
    expect(obs30.items.filter((i) => i.owned)).toHaveLength(30);
    expect(obs30.items.find((i) => i.id === `${app}-i29`)).toMatchObject({ instance: 'i29', owned: true, specHash: 'hash29' });
    console.log(`docker observe requests: 3 containers -> ${three.length} (${three.join(', ')}); 30 containers -> ${thirty.length}`);
    expect(thirty).toEqual(three);
    expect(three).toEqual(['GET /containers/json', 'GET /containers/json', 'GET /images/json']);
    // Stopped containers cost nothing extra either: their exit code comes from the list.
    await Promise.all(Array.from({ length: 30 }, (_, i) => docker.getContainer(`${app}-i${i}`).kill().catch(() => undefined)));
    await until('all stopped', async () => ((await driver.observe({ config: cfg, paths })).items.filter((i) => i.owned && i.state !== 'running').length === 30 ? true : undefined));
    const [stopped, obsStopped] = await requestsFor();
    expect(stopped).toEqual(three);
    expect(obsStopped.items.find((i) => i.id === `${app}-i0`)).toMatchObject({ state: 'failed', exitStatus: 137, exitSignal: 'SIGKILL' });
  }, 60_000);
});

