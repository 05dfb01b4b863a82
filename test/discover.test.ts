// `tend discover` (list, --adopt, --cleanup-stopped, --skip-discovery) run as a process against real
// Docker containers carrying the cc-bridge.instance label (no mocks).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendGate } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { busyboxImage, engine, removeContainers, removeImages, sleeper, uniqueName } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';
import { freePort } from './fixtures/app.js';

const gate = await backendGate('docker');
const scratch = useScratch();

interface Listed {
  name: string;
  id: string;
  image: string;
  state: string;
  network: string | null;
  instance: string | null;
  adopted: boolean;
  gone: boolean;
  reason: string;
  problem?: string;
}

describe.skipIf(gate.skip)('tend discover on the real Docker Engine', () => {
  const u = uniqueName('d');
  const image = `${u}-bb:latest`;
  const patterned = `${u}-special:v2.3.4`;
  const network = `${u}-net`;
  const containers: string[] = [];
  let docker: Docker;
  let root: string;

  /** tend.yaml with these discovery settings (the label cc-bridge.instance, named: it is no built-in default). */
  const writeConfig = (discovery: string[] = []) => writeFileSync(join(root, 'tend.yaml'), [
    'apiVersion: tend/v1', `app: ${u}`, 'source:', '  repo: .',
    'docker:', '  discovery:', '    label: cc-bridge.instance', `    imagePatterns: ["${u}-special"]`, ...discovery,
  ].join('\n'));
  const run = (...args: string[]) => tend(['-C', root, 'discover', ...args]);
  /** This run's containers in `tend discover --json` (others on the host are left out). */
  const listed = async (...args: string[]): Promise<Listed[]> => {
    const r = await run('--json', ...args);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0 });
    return (JSON.parse(r.stdout) as { containers: Listed[] }).containers.filter((c) => c.name.startsWith(`${u}-`));
  };
  const make = async (name: string, opts: Omit<Parameters<typeof sleeper>[2], 'name'> & { image?: string } = {}) => {
    containers.push(`${u}-${name}`);
    return sleeper(docker, opts.image ?? image, { name: `${u}-${name}`, ...opts });
  };

  beforeAll(async () => {
    gate.check();
    docker = engine();
    root = scratch('discover');
    mkdirSync(join(root, 'desired'));
    writeConfig();
    const containersReady = (async () => {
      await busyboxImage(scratch('discover-image'), image);
      await docker.getImage(image).tag({ repo: patterned.split(':')[0]!, tag: 'v2.3.4' });
      await docker.createNetwork({ Name: network });
      await Promise.all([
        // Labelled, on a network of its own, publishing a port: the regular case.
        make('alpha', { labels: { 'cc-bridge.instance': `${u}-a` }, network, publish: { hostPort: await freePort(), containerPort: 8080 } }),
        // Labelled, created but never started.
        make('beta', { labels: { 'cc-bridge.instance': `${u}-b` }, publish: { hostPort: await freePort(), containerPort: 9000 }, start: false }),
        // Found by its image (docker.discovery.imagePatterns), no label: named after the container.
        make('gamma', { image: patterned, publish: { hostPort: await freePort(), containerPort: 8080 } }),
        // Not candidates: no label and another image; tend's own (a tend.app label) even with the label.
        make('plain'),
        make('owned', { labels: { 'tend.app': u, 'tend.instance': 'owned', 'cc-bridge.instance': `${u}-o` } }),
      ]);
    })();
    await Promise.all([buildOnce(), containersReady]);
  }, 120_000);

  afterAll(async () => {
    if (!docker) return;
    await removeContainers(docker, containers);
    await docker.getNetwork(network).remove().catch(() => undefined);
    await removeImages(docker, [patterned, image]);
  });

  it('lists the containers that look like instances: name, image, state, network, instance name', async () => {
    const found = await listed();
    expect(found.map((c) => c.name)).toEqual([`${u}-alpha`, `${u}-beta`, `${u}-gamma`]);
    expect(found[0]).toMatchObject({
      image, state: 'running', network, instance: `${u}-a`, adopted: false, gone: false, reason: `label cc-bridge.instance=${u}-a`,
    });
    expect(found[1]).toMatchObject({ state: 'stopped', network: 'bridge', instance: `${u}-b` });
    expect(found[2]).toMatchObject({ image: patterned, state: 'running', instance: `${u}-gamma`, reason: `image ${u}-special` });
    const text = await run();
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^NAME +IMAGE +STATE +NETWORK +INSTANCE +NOTE$/m);
    expect(text.stdout).toMatch(new RegExp(`^${u}-alpha +${image} +running +${network} +${u}-a +label cc-bridge.instance=${u}-a$`, 'm'));
    expect(text.stdout).not.toContain(`${u}-plain`);
    expect(text.stdout).not.toContain(`${u}-owned`);
  });

  it('--skip-discovery and docker.discovery.enabled: false look for nothing new (and refuse --adopt)', async () => {
    expect(await listed('--skip-discovery')).toEqual([]);
    const refused = await run('--adopt', '--skip-discovery');
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toMatch(/--adopt needs discovery, which is off \(--skip-discovery\)/);
    writeConfig(['    enabled: false']);
    try {
      expect(await listed()).toEqual([]);
      const text = await run();
      expect(text.stderr).toMatch(/discovery is off \(docker.discovery.enabled: false\)/);
      expect(await run('--adopt')).toMatchObject({ code: 1 });
    } finally {
      writeConfig();
    }
  });

  it('--adopt writes a desired file and a record for each; a taken name gets -docker and a warning', async () => {
    writeFileSync(join(root, 'desired', `${u}-a.yaml`), 'version: v1.0.0\nruntime: tmux\nport: 7000\n');
    const r = await run('--adopt');
    expect(r).toMatchObject({ code: 0 });
    expect(r.stderr).toContain(`warning: instance name ${u}-a is taken (desired/${u}-a.yaml exists): adopted ${u}-alpha as ${u}-a-docker\n`);
    expect(r.stdout).toContain(`adopted ${u}-alpha as ${u}-a-docker: desired/${u}-a-docker.yaml\n`);
    expect(r.stdout).toContain(`adopted ${u}-beta as ${u}-b: desired/${u}-b.yaml\n`);
    expect(r.stdout).toContain(`adopted ${u}-gamma as ${u}-gamma: desired/${u}-gamma.yaml\n`);

    const alpha = (await docker.getContainer(`${u}-alpha`).inspect());
    const alphaPort = alpha.HostConfig.PortBindings!['8080/tcp']![0]!.HostPort;
    expect(parse(readFileSync(join(root, 'desired', `${u}-a-docker.yaml`), 'utf8'))).toEqual({
      version: 'latest', runtime: 'docker', state: 'running', port: Number(alphaPort), address: '127.0.0.1',
      docker: { containerPort: 8080, network },
    });
    expect(parse(readFileSync(join(root, 'desired', `${u}-b.yaml`), 'utf8'))).toMatchObject({ state: 'stopped', docker: { containerPort: 9000 } });
    expect(parse(readFileSync(join(root, 'desired', `${u}-gamma.yaml`), 'utf8'))).toMatchObject({ version: 'v2.3.4' });
    expect(readFileSync(join(root, 'desired', `${u}-a.yaml`), 'utf8')).toBe('version: v1.0.0\nruntime: tmux\nport: 7000\n');
    const record = JSON.parse(readFileSync(join(root, 'instances', `${u}-a-docker`, 'adopted.json'), 'utf8')) as Record<string, string>;
    expect(record).toEqual({ containerId: alpha.Id, container: `${u}-alpha`, image, adoptedAt: expect.any(String) });
    expect(Date.parse(record.adoptedAt!)).toBeGreaterThan(Date.now() - 60_000);

    // The desired files it wrote load and validate.
    const validate = await tend(['-C', root, 'validate']);
    expect(validate.stdout).toMatch(/4 of 4 desired files valid; 0 errors/);
    // Listed as adopted now; a second --adopt finds nothing new.
    expect((await listed()).map((c) => [c.name, c.instance, c.adopted])).toEqual([
      [`${u}-alpha`, `${u}-a-docker`, true], [`${u}-beta`, `${u}-b`, true], [`${u}-gamma`, `${u}-gamma`, true],
    ]);
    const again = await run('--adopt');
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).not.toContain(`adopted ${u}-`);
  });

  it('an adopted container that disappears is listed as stopped; --cleanup-stopped removes that instance (desired file, instance directory, what tend owns of it) after confirmation or --yes', async () => {
    await removeContainers(docker, [`${u}-beta`]);
    // A stopped container tend owns for the same instance: removed along with it.
    await make('own-b', { labels: { 'tend.app': u, 'tend.instance': `${u}-b` }, start: false });
    const found = await listed();
    expect(found.find((c) => c.name === `${u}-beta`)).toMatchObject({ state: 'stopped', adopted: true, gone: true, instance: `${u}-b` });
    expect((await run()).stdout).toMatch(new RegExp(`^${u}-beta +${image} +stopped +- +${u}-b +adopted; the container is gone \\(--cleanup-stopped removes the instance\\)`, 'm'));
    // Still listed with discovery off: adoptions are history, not discovery.
    expect((await listed('--skip-discovery')).map((c) => c.name)).toEqual([`${u}-alpha`, `${u}-beta`, `${u}-gamma`]);
    const left = () => ({
      desired: existsSync(join(root, 'desired', `${u}-b.yaml`)),
      dir: existsSync(join(root, 'instances', `${u}-b`)),
    });
    const ownB = () => docker.getContainer(`${u}-own-b`).inspect().then(() => true, () => false);

    // Off a terminal without --yes: refused, nothing removed.
    const asked = await run('--cleanup-stopped');
    expect(asked.code).toBe(1);
    expect(asked.stderr).toContain('error: tend discover --cleanup-stopped asks for confirmation; not on a terminal, so pass --yes');
    expect(left()).toEqual({ desired: true, dir: true });
    // agent.git.pull on: refused unless --local.
    writeFileSync(join(root, 'tend.yaml'), `${readFileSync(join(root, 'tend.yaml'), 'utf8')}\nagent:\n  git:\n    pull: true\n`);
    try {
      const refused = await run('--cleanup-stopped', '--yes');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/agent.git.pull is on, so desired files come from git: remove stopped instances/);
      expect(left()).toEqual({ desired: true, dir: true });
      expect(await ownB()).toBe(true);
    } finally {
      writeConfig();
    }

    const r = await run('--cleanup-stopped', '--yes');
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toContain(
      `removed stopped instance ${u}-b (its adopted container ${u}-beta is gone): container ${u}-own-b, instances/${u}-b/, desired/${u}-b.yaml\n`,
    );
    expect(left()).toEqual({ desired: false, dir: false });
    expect(await ownB()).toBe(false);
    expect((await listed()).map((c) => c.name)).toEqual([`${u}-alpha`, `${u}-gamma`]);
    const none = await run('--cleanup-stopped', '--yes');
    expect(none).toMatchObject({ code: 0, stdout: 'no stopped instances to clean up\n' });
  });

  it('--cleanup-stopped --json reports each removal; an instance tend runs its own container for is kept, only its adoption forgotten', async () => {
    await make('delta', { labels: { 'cc-bridge.instance': `${u}-c` }, publish: { hostPort: await freePort(), containerPort: 8080 } });
    await make('echo', { labels: { 'cc-bridge.instance': `${u}-e` }, publish: { hostPort: await freePort(), containerPort: 8080 } });
    const adopted = await run('--adopt');
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(adopted.stdout).toContain(`adopted ${u}-delta as ${u}-c`);
    expect(adopted.stdout).toContain(`adopted ${u}-echo as ${u}-e`);
    const ids = Object.fromEntries(await Promise.all(['delta', 'echo'].map(async (n) => [n, (await docker.getContainer(`${u}-${n}`).inspect()).Id] as const)));
    await removeContainers(docker, [`${u}-delta`, `${u}-echo`]);
    // ${u}-c runs under tend now (a container of its own, with tend's labels): not a stopped instance.
    await make('own-c', { labels: { 'tend.app': u, 'tend.instance': `${u}-c` } });

    const r = await run('--cleanup-stopped', '--yes', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { cleanup: unknown; containers: Listed[] };
    expect(out.cleanup).toEqual({
      removed: [{
        container: `${u}-echo`, id: ids.echo, instance: `${u}-e`, files: [`desired/${u}-e.yaml`], instanceDir: `instances/${u}-e/`, deleted: [], inGit: false,
      }],
      kept: [{ container: `${u}-delta`, id: ids.delta, instance: `${u}-c`, running: [`container ${u}-own-c`] }],
      failures: [],
    });
    expect(out.containers.filter((c) => c.name.startsWith(`${u}-`)).map((c) => c.name)).toEqual([`${u}-alpha`, `${u}-gamma`]);
    expect(existsSync(join(root, 'desired', `${u}-e.yaml`))).toBe(false);
    expect(existsSync(join(root, 'instances', `${u}-e`))).toBe(false);
    // Kept: its desired file and the container tend runs; the record of the gone container is dropped.
    expect(existsSync(join(root, 'desired', `${u}-c.yaml`))).toBe(true);
    expect(existsSync(join(root, 'instances', `${u}-c`, 'adopted.json'))).toBe(false);
    expect((await docker.getContainer(`${u}-own-c`).inspect()).State.Running).toBe(true);
  });

  it('a label value that is no instance name is listed with the reason, and --adopt fails for it (exit 1)', async () => {
    await make('bad', { labels: { 'cc-bridge.instance': 'Not_A_Name' }, publish: { hostPort: await freePort(), containerPort: 8080 } });
    try {
      expect((await listed()).find((c) => c.name === `${u}-bad`)).toMatchObject({ instance: null, problem: expect.stringMatching(/is not a lowercase DNS label/) });
      const r = await run('--adopt');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: cannot adopt ${u}-bad: label cc-bridge.instance="Not_A_Name" is not a lowercase DNS label`);
    } finally {
      await removeContainers(docker, [`${u}-bad`]);
    }
  });

  it('--adopt refuses when agent.git.pull is on, unless --local', async () => {
    writeConfig();
    writeFileSync(join(root, 'tend.yaml'), `${readFileSync(join(root, 'tend.yaml'), 'utf8')}\nagent:\n  git:\n    pull: true\n`);
    try {
      const r = await run('--adopt');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/agent.git.pull is on/);
      expect((await run('--adopt', '--local')).code).toBe(0);
    } finally {
      writeConfig();
    }
  });
});
