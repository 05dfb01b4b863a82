// Attacks from inside a container (issue 13, holes 1-3), on the real Docker Engine with the built CLI:
// the container plays a compromised app and writes what it can reach at /instance; tend (root on the
// host) must never run its file, read another instance's secrets through its link, or append through it.
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, symlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendGate } from '../helpers/backends.js';
import { buildOnce, tend } from '../helpers/cli.js';
import { engine } from '../helpers/docker.js';
import { useScratch } from '../helpers/scratch.js';
import { freePort, httpGet } from '../fixtures/app.js';
import { fixtureRoot, harnesses } from '../drivers/contract-backends.js';

const scratch = useScratch();
const h = harnesses.find((x) => x.runtime === 'docker')!;
const gate = await backendGate('docker');

/** Runs argv in the container (busybox applets by full name: the image has no PATH lookups to rely on). */
async function inContainer(name: string, argv: string[]): Promise<{ code: number; out: string }> {
  const exec = await engine().getContainer(name).exec({ Cmd: argv, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const info = await exec.inspect();
  return { code: info.ExitCode ?? -1, out: Buffer.concat(chunks).toString('utf8') };
}

const sh = (script: string) => ['/bin/busybox', 'sh', '-c', script];

describe.skipIf(gate.skip)('a container attacks tend through its mounts (real Docker Engine)', () => {
  const app = `sec${process.pid}${randomBytes(3).toString('hex')}`;
  const container = `${app}-web`;
  let root: string;
  let ports: { web: number; other: number };
  const cleanups: (() => Promise<void>)[] = [];
  const desired = (name: string, extra: string[] = []) => writeFileSync(join(root, 'desired', `${name}.yaml`), [
    'version: v1.0.0', 'runtime: docker', `port: ${ports[name as 'web' | 'other']}`, 'secrets: [API_TOKEN]',
    'docker:', '  containerPort: 8080', 'health:', '  timeout: 5s', '  interval: 250ms', ...extra, '',
  ].join('\n'));
  const envOf = async (name: string, key: string, port = ports[name as 'web' | 'other']) => (await httpGet(`http://127.0.0.1:${port}/env/${key}`)).body;

  beforeAll(async () => {
    gate.check();
    await buildOnce();
    root = scratch('sec-container');
    const { image } = await fixtureRoot(h, root, app);
    if (image) cleanups.push(() => h.removeImage!(image));
    cleanups.push(async () => {
      const { loadConfig } = await import('../../src/spec/config.js');
      await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
    });
    ports = { web: await freePort(), other: await freePort() };
    for (const [name, token] of [['web', 'web-token-1111'], ['other', 'other-token-2222']] as const) {
      const r = await tend(['-C', root, 'create', name, '--version', 'v1.0.0', '--runtime', 'docker', '--port', String(ports[name]), '--secret', `API_TOKEN=${token}`, '--no-apply']);
      expect(r.code, r.stderr).toBe(0);
      desired(name, ['  tcp: true']);
    }
    const r = await tend(['-C', root, 'reconcile']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await envOf('web', 'API_TOKEN')).toBe('web-token-1111');
  }, 240_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  }, 120_000);

  it('hole 1: a health.exec script the container writes is never run on the host', async () => {
    const marker = join(root, 'PWNED-by-container');
    const payload = `#!/bin/sh\\ntouch ${marker}\\n`;
    // The container tries both places: the instance directory's top (old mount) and its writable data/.
    for (const where of ['/instance/check.sh', '/instance/data/check.sh']) {
      await inContainer(container, sh(`/bin/busybox printf '${payload}' > ${where} && /bin/busybox chmod 755 ${where}`));
    }
    expect(existsSync(join(root, 'instances', 'web', 'check.sh')), 'the container reached the instance directory').toBe(false);
    for (const exec of ['./check.sh', join(root, 'instances', 'web', 'data', 'check.sh')]) {
      desired('web', ['  exec: [' + JSON.stringify(exec) + ']']);
      const r = await tend(['-C', root, 'reconcile']);
      expect(existsSync(marker), `tend ran ${exec} written by the container (reconcile exit ${r.code})`).toBe(false);
      if (exec.startsWith('/')) expect(r.stdout + r.stderr).toContain('under the instances folder, which instances can write');
    }
    desired('web', ['  tcp: true']);
    const back = await tend(['-C', root, 'reconcile']);
    expect(back.code, back.stderr + back.stdout).toBe(0);
    expect(await envOf('web', 'API_TOKEN')).toBe('web-token-1111');
  }, 240_000);

  it("hole 2: a .env link never hands the container another instance's secrets", async () => {
    const otherEnv = join(root, 'instances', 'other', '.env');
    // From inside: replace /instance/.env with a link to the other instance's .env (a host path).
    await inContainer(container, sh(`/bin/busybox rm -f /instance/.env; /bin/busybox ln -s ${otherEnv} /instance/.env`));
    const envFile = join(root, 'instances', 'web', '.env');
    expect(lstatSync(envFile).isFile(), 'the container replaced the host .env').toBe(true);
    let r = await tend(['-C', root, 'reconcile']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await envOf('web', 'API_TOKEN')).toBe('web-token-1111');
    // The same link put there on the host (by anything else): refused by name, nothing restarted, the secret kept.
    const saved = readFileSync(envFile);
    rmSync(envFile);
    symlinkSync(otherEnv, envFile);
    try {
      r = await tend(['-C', root, 'reconcile']);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain(`refusing ${envFile}: it is a symbolic link`);
      expect(await envOf('web', 'API_TOKEN')).toBe('web-token-1111');
      const set = await tend(['-C', root, 'secret', 'set', 'web', 'API_TOKEN', '-'], { input: 'x-new-value\n' });
      expect(set.code).not.toBe(0);
      expect(set.stderr).toContain('symbolic link');
      expect(readFileSync(otherEnv, 'utf8')).toContain('other-token-2222');
      expect(readFileSync(otherEnv, 'utf8')).not.toContain('x-new-value');
    } finally {
      rmSync(envFile);
      writeFileSync(envFile, saved, { mode: 0o600 });
    }
  }, 240_000);

  it('hole 3: a .version-history link never makes tend append to another file', async () => {
    const victim = join(root, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const history = join(root, 'instances', 'web', '.version-history');
    await inContainer(container, sh(`/bin/busybox rm -f /instance/.version-history; /bin/busybox ln -s ${victim} /instance/.version-history`));
    expect(lstatSync(history).isFile(), 'the container replaced the host history').toBe(true);
    const saved = readFileSync(history);
    rmSync(history);
    symlinkSync(victim, history);
    try {
      desired('web', ['  tcp: true', '# v1.1.0 next', 'env:', '  BUMP: "1"']);
      const r = await tend(['-C', root, 'update', 'web', '--version', 'v1.1.0']);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain(`refusing ${history}: it is a symbolic link`);
      expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    } finally {
      rmSync(history);
      writeFileSync(history, saved);
    }
    const r = await tend(['-C', root, 'reconcile']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(history, 'utf8').trim().split('\n').length).toBeGreaterThan(saved.toString().trim().split('\n').length);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  }, 240_000);
});
