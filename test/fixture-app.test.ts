// The fixture app (test/fixtures/app.ts) for real: the generated repository,
// its build, the Node.js server it produces, and (with Docker) its image.
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cloneTag,
  FIXTURE_ARTIFACT,
  FIXTURE_CONTAINER_PORT,
  FIXTURE_VERSIONS,
  freePort,
  httpGet,
  makeFixtureRepo,
  runBuild,
  startFixture,
  waitForHttp,
  type FixtureRepo,
} from './fixtures/app.js';
import { backendGate } from './helpers/backends.js';
import { useScratch } from './helpers/scratch.js';

const docker = await backendGate('docker');
const scratch = useScratch();
const suffix = randomBytes(4).toString('hex');
const image = `tend-fixture-oubliette-${suffix}:latest`;

let fx: FixtureRepo;
beforeAll(async () => {
  fx = await makeFixtureRepo(scratch('fixture-repo'), { image });
});

const gitOut = async (cwd: string, args: string[]) => (await execa('git', ['-C', cwd, ...args])).stdout.trim();

describe('makeFixtureRepo', () => {
  it('makes three tags on three distinct commits, build.sh executable, a clean tree', async () => {
    expect(fx.repo).toMatch(/\/oubliette$/);
    expect(fx.image).toBe(image);
    expect((await gitOut(fx.repo, ['tag', '--list'])).split('\n')).toEqual([...FIXTURE_VERSIONS]);
    for (const v of FIXTURE_VERSIONS) {
      expect(fx.tags[v]).toMatch(/^[0-9a-f]{40}$/);
      expect(await gitOut(fx.repo, ['rev-parse', `${v}^{commit}`])).toBe(fx.tags[v]);
      expect(await gitOut(fx.repo, ['cat-file', '-t', v])).toBe('tag'); // annotated
      expect(await gitOut(fx.repo, ['ls-tree', v, 'build.sh'])).toMatch(/^100755 blob /);
      expect(await gitOut(fx.repo, ['show', `${v}:.fixture-image`])).toBe(image);
    }
    expect(new Set(Object.values(fx.tags)).size).toBe(3);
    expect(await gitOut(fx.repo, ['rev-parse', 'HEAD'])).toBe(fx.tags['v2.0.0']);
    expect(await gitOut(fx.repo, ['status', '--porcelain'])).toBe('');
  });

  it('is deterministic (fixed dates) and can make lightweight tags and image-less repos', async () => {
    const a = await makeFixtureRepo(scratch('fixture-a'));
    const b = await makeFixtureRepo(scratch('fixture-b'), { image: false, annotatedTags: false });
    expect(b.tags).toEqual(a.tags);
    expect(a.image).toBeUndefined();
    expect(await gitOut(b.repo, ['cat-file', '-t', 'v1.0.0'])).toBe('commit');
    expect(a.tags['v1.0.0']).not.toBe(fx.tags['v1.0.0']); // .fixture-image differs
    await expect(makeFixtureRepo(join(a.repo, '..'))).rejects.toThrow(/already exists/);
    await expect(makeFixtureRepo(scratch('fixture-c'), { image: 'Bad Name' })).rejects.toThrow(/bad image name/);
  });
});

describe('bin/oubliette (the Node.js artifact)', () => {
  const cases = [
    { version: 'v1.1.0', health: 200 },
    { version: 'v2.0.0', health: 500 },
  ] as const;

  it.each(cases)('$version: builds, serves the run contract, exits 0 on SIGTERM', async ({ version, health }) => {
    const checkout = await cloneTag(fx.repo, version, join(scratch(`fixture-${version}`), 'src'));
    const t0 = Date.now();
    const build = await runBuild(checkout, { TEND_VERSION: version, FIXTURE_IMAGE: '' });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(build.stdout).toContain(`bin/oubliette ${version}`);
    const artifact = join(checkout, FIXTURE_ARTIFACT);
    expect((await stat(artifact)).mode & 0o777).toBe(0o755);
    expect((await readFile(artifact, 'utf8')).split('\n')[0]).toBe('#!/usr/bin/env node');

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // TEND_PORT points elsewhere: the --port argument wins.
    const app = await startFixture(checkout, {
      args: ['--port', String(port), '--name', 'web-1'],
      env: { TEND_PORT: '1', FIXTURE_ECHO: 'hello world', OUBLIETTE_PROJECTS: 'alpha:3,beta:0' },
      url,
    });
    try {
      const h = await httpGet(`${url}/health`);
      expect(h.status).toBe(health);
      if (health === 200) expect(h.body).toBe('ok\n');
      expect(await httpGet(`${url}/version`)).toMatchObject({ status: 200, body: `${version}\n` });
      expect(await httpGet(`${url}/env/FIXTURE_ECHO`)).toMatchObject({ status: 200, body: 'hello world' });
      expect((await httpGet(`${url}/env/FIXTURE_UNSET_${suffix}`)).status).toBe(404);
      expect((await httpGet(`${url}/env/not-a-name`)).status).toBe(400);
      const m = await httpGet(`${url}/metrics`);
      expect(m.status).toBe(200);
      expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(m.body).toMatch(/^oubliette_projects_total 2$/m);
      expect(m.body).toMatch(/^oubliette_active_sessions\{project_id="alpha"\} 3$/m);
      expect(m.body).toMatch(/^oubliette_active_sessions\{project_id="beta"\} 0$/m);
      expect((await httpGet(`${url}/args`)).body).toBe(`--port\n${port}\n--name\nweb-1\n`);
      expect((await httpGet(`${url}/nope`)).status).toBe(404);

      const t1 = Date.now();
      app.child.kill('SIGTERM');
      const exit = await Promise.race([app.exited, new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - t1).toBeLessThan(5000);
      expect(app.output()).toMatch(new RegExp(`listening on ${url}`));
      expect(app.output()).toMatch(/ GET \/health (200|500)\n/);
      expect(app.output()).toMatch(/ GET \/env\/FIXTURE_ECHO 200\n/);
    } finally {
      app.kill();
    }
  });

  it('falls back to git describe for the version and to TEND_PORT / TEND_ADDRESS for the socket', async () => {
    const checkout = await cloneTag(fx.repo, 'v1.0.0', join(scratch('fixture-v1.0.0'), 'src'));
    await runBuild(checkout, { TEND_VERSION: '', FIXTURE_IMAGE: 'none' }); // empty = unset for build.sh
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const app = await startFixture(checkout, { env: { TEND_PORT: String(port), TEND_ADDRESS: '127.0.0.1' }, url });
    try {
      expect(await httpGet(`${url}/version`)).toMatchObject({ status: 200, body: 'v1.0.0\n' });
      expect(await httpGet(`${url}/health`)).toMatchObject({ status: 200, body: 'ok\n' });
      expect((await httpGet(`${url}/metrics`)).body).toMatch(/^oubliette_projects_total 2$/m); // default alpha:2,beta:1
    } finally {
      app.kill();
    }
  });

  it('refuses to start without a port', async () => {
    const checkout = await cloneTag(fx.repo, 'v1.0.0', join(scratch('fixture-noport'), 'src'));
    await runBuild(checkout, { TEND_VERSION: 'v1.0.0', FIXTURE_IMAGE: '' });
    const env = { ...process.env };
    delete env.TEND_PORT;
    const r = await execa(join(checkout, FIXTURE_ARTIFACT), [], { env, extendEnv: false, reject: false, timeout: 10_000 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/no port/);
  });

  it('skips the image with a warning when no Docker engine answers', async () => {
    const checkout = await cloneTag(fx.repo, 'v1.1.0', join(scratch('fixture-nodocker'), 'src'));
    const r = await runBuild(checkout, {
      TEND_VERSION: 'v1.1.0',
      DOCKER_HOST: `unix://${join(checkout, 'no-such.sock')}`,
    });
    expect(r.stderr).toMatch(/warning: no (Docker engine answers|docker command); image .* not built/);
  });
});

describe.skipIf(docker.skip)('the image (docker)', () => {
  const run = (args: string[], timeout = 60_000) => execa('docker', args, { timeout, stdin: 'ignore', reject: false });

  it('v1.1.0 image: builds from scratch, serves the paths on 8080, stops fast, saves; v2.0.0 fails /health', async () => {
    docker.check();
    const dir = scratch('fixture-image');
    const names = [`tend-fixture-${suffix}-v11`, `tend-fixture-${suffix}-v2`];
    const image2 = `tend-fixture-oubliette-${suffix}:v2`;
    try {
      // v1.1.0: the image name comes from the committed .fixture-image.
      const c11 = await cloneTag(fx.repo, 'v1.1.0', join(dir, 'v1.1.0'));
      let t0 = Date.now();
      const b11 = await runBuild(c11, { TEND_VERSION: 'v1.1.0' });
      const buildMs = Date.now() - t0;
      expect(b11.stdout).toMatch(new RegExp(`image ${image} sha256:[0-9a-f]{64}`));
      const inspect = JSON.parse((await run(['image', 'inspect', image])).stdout) as Array<{
        Config: { ExposedPorts?: Record<string, unknown>; Labels?: Record<string, string> };
        Size: number;
      }>;
      expect(Object.keys(inspect[0]?.Config.ExposedPorts ?? {})).toEqual([`${FIXTURE_CONTAINER_PORT}/tcp`]);
      expect(inspect[0]?.Config.Labels?.['org.opencontainers.image.version']).toBe('v1.1.0');
      expect(inspect[0]?.Size).toBeLessThan(5_000_000);

      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      t0 = Date.now();
      const started = await run([
        'run', '-d', '--name', names[0]!, '-p', `127.0.0.1:${port}:${FIXTURE_CONTAINER_PORT}`,
        '-e', 'FIXTURE_ECHO=hello from docker', '-e', 'OUBLIETTE_PROJECTS=alpha:3,beta:0',
        image,
      ]);
      expect(started.stderr).toBe('');
      await waitForHttp(`${url}/`, 10_000);
      const startMs = Date.now() - t0;
      expect(await httpGet(`${url}/health`)).toMatchObject({ status: 200, body: 'ok\n' });
      expect(await httpGet(`${url}/version`)).toMatchObject({ status: 200, body: 'v1.1.0\n' });
      expect(await httpGet(`${url}/env/FIXTURE_ECHO`)).toMatchObject({ status: 200, body: 'hello from docker' });
      expect((await httpGet(`${url}/env/FIXTURE_UNSET`)).status).toBe(404);
      expect((await httpGet(`${url}/env/HEALTH_STATUS`)).status).toBe(404); // a shell variable, not env
      expect((await httpGet(`${url}/env/not-a-name`)).status).toBe(400);
      const m = await httpGet(`${url}/metrics`);
      expect(m.status).toBe(200);
      expect(m.body).toMatch(/^oubliette_projects_total 2$/m);
      expect(m.body).toMatch(/^oubliette_active_sessions\{project_id="alpha"\} 3$/m);
      expect(m.body).toMatch(/^oubliette_active_sessions\{project_id="beta"\} 0$/m);
      expect((await httpGet(`${url}/nope`)).status).toBe(404);

      t0 = Date.now();
      expect((await run(['stop', '-t', '5', names[0]!])).exitCode).toBe(0);
      const stopMs = Date.now() - t0;
      expect(stopMs).toBeLessThan(3000);
      expect((await run(['inspect', '-f', '{{.State.ExitCode}}', names[0]!])).stdout.trim()).toBe('0');
      const logs = await run(['logs', names[0]!]);
      expect(logs.stdout).toMatch(/listening on 0\.0\.0\.0:8080/);
      expect(logs.stdout).toMatch(/ GET \/env\/FIXTURE_ECHO 200\n/);

      // docker save: what releases store as container-image.tar
      t0 = Date.now();
      const tar = join(dir, 'container-image.tar');
      expect((await run(['save', '-o', tar, image])).exitCode).toBe(0);
      const saveMs = Date.now() - t0;
      const listing = (await execa('tar', ['-tf', tar])).stdout.split('\n');
      expect(listing).toContain('manifest.json');
      expect((await stat(tar)).size).toBeGreaterThan(1_000_000);

      // v2.0.0, named by FIXTURE_IMAGE, listening on --port 9090 given as arguments.
      const c2 = await cloneTag(fx.repo, 'v2.0.0', join(dir, 'v2.0.0'));
      await runBuild(c2, { TEND_VERSION: 'v2.0.0', FIXTURE_IMAGE: image2 });
      const port2 = await freePort();
      const url2 = `http://127.0.0.1:${port2}`;
      await run(['run', '-d', '--name', names[1]!, '-p', `127.0.0.1:${port2}:9090`, image2, '--port', '9090', '--address', '0.0.0.0']);
      await waitForHttp(`${url2}/`, 10_000);
      expect((await httpGet(`${url2}/health`)).status).toBe(500);
      expect(await httpGet(`${url2}/version`)).toMatchObject({ status: 200, body: 'v2.0.0\n' });
      expect((await httpGet(`${url2}/args`)).body).toBe('--port\n9090\n--address\n0.0.0.0\n');
      t0 = Date.now();
      expect((await run(['stop', '-t', '5', names[1]!])).exitCode).toBe(0);
      expect(Date.now() - t0).toBeLessThan(3000);

      console.log(`fixture image timings: build ${buildMs} ms, start ${startMs} ms, stop ${stopMs} ms, save ${saveMs} ms`);
    } finally {
      for (const n of names) await run(['rm', '-f', n]);
      await run(['rmi', '-f', image, image2]);
    }
  });
});
