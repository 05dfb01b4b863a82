// Lifecycle hygiene (issue 14, point 12) on the real backends: deleting tend's last tmux instance ends
// tend's tmux server and removes its socket (another instance keeps both); pruning a release removes
// its Docker image and container-image.tar with it, never an image in use (by any container), a
// rollback target's, or one another name still tags (then the release stays, and a later prune takes it).
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendGate } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { engine, removeContainers, removeImages } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';

const scratch = useScratch();
const tmuxGate = await backendGate('tmux');
const dockerGate = await backendGate('docker');
const suffix = () => `${process.pid}${randomBytes(3).toString('hex')}`;

/** Live processes whose command line names `needle` (tmux servers carry their -L socket name there). */
function processesNaming(needle: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (/\) Z /.test(readFileSync(`/proc/${d}/stat`, 'utf8'))) continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${d} ${cmd}`);
    } catch { /* gone */ }
  }
  return out;
}

describe.skipIf(tmuxGate.skip)('tend delete of the last tmux instance ends tend\'s tmux server (real tmux)', () => {
  const app = `hygt${suffix()}`;
  const socket = `tend-hyg-${app}`;
  const socketFile = join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket);
  const tmux = (args: string[]) => execa('tmux', ['-u', '-L', socket, '-f', '/dev/null', ...args], { reject: false, stdin: 'ignore' });
  let root: string;

  beforeAll(async () => {
    tmuxGate.check();
    root = scratch('hyg-tmux');
    const h = harnesses.find((x) => x.runtime === 'tmux')!;
    await Promise.all([buildOnce(), fixtureRoot(h, root, app, { runtimeYaml: `tmux:\n  socket: ${socket}\ndocker:\n  discovery:\n    enabled: false` })]);
  }, 120_000);

  afterAll(async () => {
    await tmux(['kill-server']);
    rmSync(socketFile, { force: true });
    const left = processesNaming(`-L ${socket} `);
    if (left.length > 0) throw new Error(`test clean-up: tmux server of ${socket} still runs: ${left.join('; ')}`);
  });

  it('deleting one of two keeps the server; deleting the last ends it and removes its socket file', async () => {
    for (const name of ['a', 'b']) {
      writeFileSync(join(root, 'desired', `${name}.yaml`), `version: v1.0.0\nruntime: tmux\nport: ${await freePort()}\nhealth:\n  http: /health\n  timeout: 20s\n  interval: 200ms\n`);
    }
    const rec = await tend(['-C', root, 'reconcile']);
    expect(rec.code, rec.stdout + rec.stderr).toBe(0);
    expect((await tmux(['list-sessions', '-F', '#{session_name}'])).stdout.split('\n').filter(Boolean).sort()).toEqual([`${app}-a`, `${app}-b`]);
    expect(existsSync(socketFile)).toBe(true);

    const first = await tend(['-C', root, 'delete', 'a', '--yes']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const rest = await tmux(['list-sessions', '-F', '#{session_name}']);
    expect(rest.exitCode, rest.stderr).toBe(0);
    expect(rest.stdout.trim()).toBe(`${app}-b`);
    expect(existsSync(socketFile)).toBe(true);

    const last = await tend(['-C', root, 'delete', 'b', '--yes']);
    expect(last.code, last.stdout + last.stderr).toBe(0);
    const none = await tmux(['list-sessions']);
    expect(none.exitCode).not.toBe(0);
    expect(none.stderr).toMatch(/no server running|error connecting|No such file or directory/);
    expect(existsSync(socketFile), `${socketFile} left behind`).toBe(false);
    expect(processesNaming(`-L ${socket} `)).toEqual([]);
  }, 120_000);
});

describe.skipIf(dockerGate.skip)('release prune removes the release\'s Docker image and tar (real Docker Engine)', () => {
  const h = harnesses.find((x) => x.runtime === 'docker')!;
  const app = `hygd${suffix()}`;
  const docker = engine();
  let root: string;
  let port: number;
  let buildImage: string | undefined;
  /** The release images' ids, for the clean-up. */
  const all: string[] = [];
  const userContainer = `${app}-user`;

  const manifestImage = (version: string): string =>
    (JSON.parse(readFileSync(join(root, 'releases', version, 'manifest.json'), 'utf8')) as { image: { id: string } }).image.id;
  const imageExists = async (ref: string) => {
    try {
      await docker.getImage(ref).inspect();
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      throw err;
    }
  };
  const desire = (version: string) => writeFileSync(join(root, 'desired', 'web.yaml'),
    `version: ${version}\nruntime: docker\nport: ${port}\ndocker:\n  containerPort: 8080\nhealth:\n  http: /health\n  timeout: 30s\n  interval: 250ms\n`);

  beforeAll(async () => {
    dockerGate.check();
    root = scratch('hyg-prune');
    port = await freePort();
    const [, made] = await Promise.all([buildOnce(), fixtureRoot(h, root, app)]);
    buildImage = made.image;
  }, 180_000);

  afterAll(async () => {
    await h.cleanup(app, {} as never);
    await removeContainers(docker, [userContainer]);
    await removeImages(docker, [...all, ...(buildImage ? [buildImage] : [])]);
    for (const ref of [`${app}:v1.0.0`, `${app}:v1.1.0`, ...all]) {
      if (await imageExists(ref)) throw new Error(`test clean-up: image ${ref} is still there`);
    }
  });

  it('prunes v2.0.0 with its image and tar; keeps the running v1.1.0 and the rollback target v1.0.0; an image a container uses keeps its release', async () => {
    // v2.0.0 built first, so the build tag moves on to later builds and only <app>:v2.0.0 names its image.
    const built = await tend(['-C', root, 'releases', 'build', 'v2.0.0']);
    expect(built.code, built.stdout + built.stderr).toBe(0);
    desire('v1.0.0');
    let rec = await tend(['-C', root, 'reconcile']);
    expect(rec.code, rec.stdout + rec.stderr).toBe(0);
    desire('v1.1.0');
    rec = await tend(['-C', root, 'reconcile']);
    expect(rec.code, rec.stdout + rec.stderr).toBe(0);
    expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim()).toBe('v1.1.0');

    const ids = { v100: manifestImage('v1.0.0'), v110: manifestImage('v1.1.0'), v200: manifestImage('v2.0.0') };
    all.push(...Object.values(ids));
    expect(new Set(Object.values(ids)).size).toBe(3);
    expect(existsSync(join(root, 'releases', 'v2.0.0', 'container-image.tar'))).toBe(true);
    // Built, never loaded: the Engine holds it by id only (the build tag has moved on to v1.1.0's).
    expect(await imageExists(ids.v200)).toBe(true);

    // A container (not tend's, never started) uses v2.0.0's image: the image stays, and so does the release.
    const user = await docker.createContainer({ name: userContainer, Image: ids.v200 });
    const kept = await tend(['-C', root, 'prune-releases', '--keep', '0', '--yes']);
    expect(kept.code, kept.stdout + kept.stderr).toBe(0);
    expect(kept.stderr).toContain(`warning: kept v2.0.0: image ${ids.v200.slice(7, 19)} is used by container ${userContainer} (created)`);
    expect(existsSync(join(root, 'releases', 'v2.0.0', 'container-image.tar'))).toBe(true);
    expect(await imageExists(ids.v200)).toBe(true);

    await user.remove();
    const pruned = await tend(['-C', root, 'prune-releases', '--keep', '0', '--yes']);
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain('deleted v2.0.0 and its image\n');
    expect(pruned.stdout).toMatch(/keep +v1\.0\.0 \(in use by web \(rollback\)\)/);
    expect(pruned.stdout).toMatch(/keep +v1\.1\.0 \(in use by web/);
    expect(existsSync(join(root, 'releases', 'v2.0.0'))).toBe(false);
    expect(await imageExists(ids.v200)).toBe(false);
    expect(await imageExists(`${app}:v2.0.0`)).toBe(false);
    // What runs and what it would roll back to keep their images.
    expect(await imageExists(ids.v110)).toBe(true);
    expect(await imageExists(ids.v100)).toBe(true);
    expect(existsSync(join(root, 'releases', 'v1.0.0', 'container-image.tar'))).toBe(true);
    expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim()).toBe('v1.1.0');
  }, 300_000);
});
