// No secret on any command line another user can read (issue 13, hole 4): `ps -eo args` run as `nobody`
// is sampled in a loop through create, restart, secret rotation and delete, on tmux, systemd and Docker.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendGate } from '../helpers/backends.js';
import { buildOnce, tend } from '../helpers/cli.js';
import { useScratch } from '../helpers/scratch.js';
import { freePort, httpGet } from '../fixtures/app.js';
import { fixtureRoot, harnesses } from '../drivers/contract-backends.js';

const scratch = useScratch();

/** Samples `ps -eo args` as nobody until stopped; every sample is kept. */
function sampler() {
  const samples: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await execa('runuser', ['-u', 'nobody', '--', 'ps', '-eo', 'args'], { reject: false, stdin: 'ignore' });
      if (r.exitCode !== 0) throw new Error(`ps as nobody failed: ${r.stderr}`);
      samples.push(r.stdout);
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

const secret = (tag: string) => `s3cr3t-${tag}-${randomBytes(8).toString('hex')}`;

for (const h of harnesses.filter((x) => x.runtime !== 'launchd')) {
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`no secret in ps as another user: ${h.title}`, () => {
    const app = `ps${h.runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let port: number;
    const cleanups: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      gate.check();
      await buildOnce();
      root = scratch(`sec-ps-${h.runtime}`);
      const { image } = await fixtureRoot(h, root, app);
      if (image) cleanups.push(() => h.removeImage!(image));
      cleanups.push(async () => {
        const { loadConfig } = await import('../../src/spec/config.js');
        await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
      });
      port = await freePort();
    }, 240_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c();
    }, 120_000);

    it('create, restart, rotate and delete: no value in any sample, the new value takes effect', async () => {
      const first = secret('first');
      const second = secret('second');
      writeFileSync(join(root, 'desired', 'web.yaml'), [
        'version: v1.0.0', `runtime: ${h.runtime}`, `port: ${port}`, 'secrets: [API_TOKEN]',
        'health:', '  http: /health', '  timeout: 20s', '  interval: 250ms', h.instanceExtra ?? '', '',
      ].join('\n'));
      const ps = sampler();
      try {
        const set = await tend(['-C', root, 'secret', 'set', 'web', 'API_TOKEN', '-', '--no-apply'], { input: `${first}\n` });
        expect(set.code, set.stderr).toBe(0);
        const created = await tend(['-C', root, 'reconcile']);
        expect(created.code, created.stderr + created.stdout).toBe(0);
        expect((await httpGet(`http://127.0.0.1:${port}/env/API_TOKEN`)).body).toBe(first);
        const restarted = await tend(['-C', root, 'restart', 'web']);
        expect(restarted.code, restarted.stderr).toBe(0);
        const rotated = await tend(['-C', root, 'secret', 'set', 'web', 'API_TOKEN', '-'], { input: `${second}\n` });
        expect(rotated.code, rotated.stderr + rotated.stdout).toBe(0);
        expect((await httpGet(`http://127.0.0.1:${port}/env/API_TOKEN`)).body).toBe(second);
        if (h.runtime === 'tmux') {
          // The server itself (started by tend's first tmux call) carries neither value.
          const socket = /socket: (\S+)/.exec(h.configYaml(app))![1]!;
          const pid = (await execa('tmux', ['-L', socket, 'display-message', '-p', '#{pid}'])).stdout.trim();
          const argv = (await execa('cat', [`/proc/${pid}/cmdline`])).stdout;
          expect(argv).not.toContain(first);
          expect(argv).not.toContain(second);
        }
        const deleted = await tend(['-C', root, 'delete', 'web', '--yes']);
        expect(deleted.code, deleted.stderr + deleted.stdout).toBe(0);
      } finally {
        await ps.stop();
      }
      expect(ps.samples.length).toBeGreaterThan(10);
      const leaks = ps.samples.flatMap((s) => s.split('\n')).filter((l) => l.includes(first) || l.includes(second));
      expect(leaks, `${leaks.length} ps lines held a secret value`).toEqual([]);
    }, 300_000);
  });
}
