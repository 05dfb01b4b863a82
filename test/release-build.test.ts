// Release builds against real git repositories, real processes and the real Docker Engine (no mocks).
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRelease, BuildError, clonePrefix, tendPackageVersion } from '../src/release/build.js';
import { sha256File } from '../src/release/files.js';
import { loadReleaseImage } from '../src/release/image.js';
import { validateRelease } from '../src/release/validate.js';
import { readBuiltReleases } from '../src/observe/releases.js';
import { resolveVersions } from '../src/release/tags.js';
import { decideRelease } from '../src/planner/release.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce } from './helpers/cli.js';
import { countLines, git, hashTree, makeApp } from './helpers/release-app.js';
import { validEntry } from './helpers/planner-fixtures.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const docker = await backendGate('docker');
const CHILD = fileURLToPath(new URL('./helpers/build-release.mjs', import.meta.url));

/** Temporary clones of `version` for this releases/ folder, as `<pid>` strings. */
const leftoverClones = (releases: string, version: string) =>
  readdirSync(tmpdir()).filter((n) => n.startsWith(clonePrefix(releases, version))).map((n) => n.slice(clonePrefix(releases, version).length));

async function expectBuildError(p: Promise<unknown>): Promise<BuildError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BuildError);
  return err as BuildError;
}

beforeAll(async () => {
  await buildOnce();
}, 120_000);

describe('buildRelease', () => {
  it('builds a tag in a temporary clone: artifacts, checksums, manifest, build.log; then reuses it', async () => {
    const app = await makeApp(scratch('build'));
    const before = hashTree(app.repo);
    const r = await buildRelease({ paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.0.0']! });
    expect(r.outcome).toBe('built');
    const dir = join(app.releases, 'v1.0.0');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const bin = join(dir, 'bin/app');
    expect(manifest).toEqual({
      version: 'v1.0.0', commit: app.commits['v1.0.0'], builtAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), builtBy: expect.stringContaining('@'),
      tendVersion: tendPackageVersion(), build: './build.sh',
      artifacts: [{ path: 'bin/app', sha256: sha256File(bin), size: statSync(bin).size, mode: '0755' }],
    });
    expect(readFileSync(bin, 'utf8')).toBe('#!/bin/sh\necho app v1.0.0\n');
    expect(statSync(bin).mode & 0o777).toBe(0o755);
    const log = readFileSync(join(dir, 'build.log'), 'utf8');
    expect(log).toContain('building v1.0.0 in mode ok');
    expect(log).toContain('done');
    expect(readdirSync(app.releases)).toEqual(['v1.0.0']);
    expect(readBuiltReleases(app.releases)).toEqual({ 'v1.0.0': { version: 'v1.0.0', commit: app.commits['v1.0.0'], valid: true } });
    expect(leftoverClones(app.releases, 'v1.0.0')).toEqual([]);
    expect(hashTree(app.repo)).toBe(before);

    const again = await buildRelease({ paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.0.0']! });
    expect(again.outcome).toBe('reused');
    expect(countLines(join(app.control, 'count'))).toHaveLength(1);
  });

  it('a moved tag is planned as `rebuild: tag moved` and rebuilt from the new commit', async () => {
    const app = await makeApp(scratch('moved'));
    await buildRelease({ paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.0.0']! });
    await git(app.repo, 'tag', '-f', 'v1.0.0', app.commits['v1.1.0']!);
    const resolutions = await resolveVersions(app.repo, app.root, ['v1.0.0']);
    const releases = { resolutions, built: readBuiltReleases(app.releases) };
    const decision = decideRelease(validEntry('web', { version: 'v1.0.0' }), releases, undefined);
    expect(decision).toMatchObject({ kind: 'ok', build: `rebuild: tag moved (release was built from ${app.commits['v1.0.0']!.slice(0, 7)})` });
    const logs: string[] = [];
    const r = await buildRelease({ paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.1.0']!, log: (_l, m) => logs.push(m) });
    expect(r.outcome).toBe('built');
    expect(r.manifest.commit).toBe(app.commits['v1.1.0']);
    expect(logs.join('\n')).toContain('rebuilding v1.0.0: tag moved');
    expect(readdirSync(app.releases)).toEqual(['v1.0.0']);
  });

  it('builds from a URL source through a mirror under releases/', async () => {
    const app = await makeApp(scratch('url'));
    const config = { ...app.config, source: { ...app.config.source, repo: `file://${app.repo}` } };
    const before = hashTree(app.repo);
    const r = await buildRelease({ paths: app.paths, config, version: 'v1.1.0', commit: app.commits['v1.1.0']! });
    expect(r.outcome).toBe('built');
    expect(readdirSync(app.releases).sort()).toEqual(['.source.git', 'v1.1.0']);
    expect(hashTree(app.repo)).toBe(before);
  });

  it('a failed build reports its exit code and last 40 log lines and leaves nothing; the repo is untouched', async () => {
    const app = await makeApp(scratch('fail'));
    writeFileSync(join(app.control, 'mode'), 'fail');
    const before = hashTree(app.repo);
    const err = await expectBuildError(buildRelease({ paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.0.0']! }));
    expect(err.message).toBe('build of v1.0.0 failed: build failed with exit code 3');
    expect(err.failure).toBe('exit');
    expect(err.exitCode).toBe(3);
    expect(err.logTail).toHaveLength(40);
    expect(err.logTail[0]).toBe('build line 62');
    expect(err.logTail.at(-1)).toBe('error: compile failed');
    // Nothing but the failed build's log (hidden: no release), kept for people to read.
    expect(readdirSync(app.releases)).toEqual(['.build-v1.0.0.log']);
    expect(err.logFile).toBe(join(app.releases, '.build-v1.0.0.log'));
    expect(readFileSync(err.logFile!, 'utf8')).toContain('error: compile failed');
    expect(leftoverClones(app.releases, 'v1.0.0')).toEqual([]);
    expect(hashTree(app.repo)).toBe(before);

    writeFileSync(join(app.control, 'mode'), 'noartifact');
    const missing = await expectBuildError(buildRelease({ paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.0.0']! }));
    // What the build produced instead (the checkout's top level; bin/ does not exist), and where its log is.
    expect(missing).toMatchObject({
      failure: 'artifact', exitCode: undefined,
      message: `build of v1.0.0 failed: the build did not produce artifact bin/app (the build's top level holds VERSION, build.sh); build log: ${join(app.releases, '.build-v1.0.0.log')}`,
    });
    expect(readFileSync(missing.logFile!, 'utf8')).toContain('building v1.0.0 in mode noartifact');
    expect(readdirSync(app.releases)).toEqual(['.build-v1.0.0.log']);
    // A build that works removes the failed one's log.
    writeFileSync(join(app.control, 'mode'), 'ok');
    await buildRelease({ paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.0.0']! });
    expect(readdirSync(app.releases)).toEqual(['v1.0.0']);
  });

  it('a build past its timeout, or aborted, is killed with what it started and leaves nothing', async () => {
    const app = await makeApp(scratch('timeout'));
    writeFileSync(join(app.control, 'mode'), 'sleep');
    const config = { ...app.config, source: { ...app.config.source, buildTimeout: '1s' } };
    const t0 = Date.now();
    const timedOut = await expectBuildError(buildRelease({ paths: app.paths, config, version: 'v1.0.0', commit: app.commits['v1.0.0']! }));
    expect(timedOut).toMatchObject({ failure: 'timeout', message: 'build of v1.0.0 failed: build timed out after 1s' });
    expect(Date.now() - t0).toBeLessThan(8_000);

    const ac = new AbortController();
    const started = join(app.control, 'started');
    const p = buildRelease({ paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.0.0']!, signal: ac.signal });
    while (!existsSync(started) || countLines(join(app.control, 'count')).length < 2) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    const aborted = await expectBuildError(p);
    expect(aborted.failure).toBe('aborted');
    // The timed-out build's log is kept; the interrupted one leaves nothing.
    expect(aborted.logFile).toBeUndefined();
    expect(readdirSync(app.releases)).toEqual(['.build-v1.0.0.log']);
    // The build's own children (sleep 30) were killed with it (zombies waiting for the reaper do not count).
    const builds = countLines(join(app.control, 'count')).map((line) => Number(line.split(' ')[2]));
    expect(builds.every((pid) => pid > 1)).toBe(true);
    const { stdout } = await execa('ps', ['-eo', 'pgid=,ppid=,stat=,pid=,args=']);
    const live = stdout.split('\n').map((l) => l.trim().split(/\s+/))
      .filter(([pgid, ppid, stat, pid]) => [pgid, ppid, pid].some((p) => builds.includes(Number(p))) && !stat!.startsWith('Z'));
    expect(live).toEqual([]);
  });

  it('a build process killed mid-build leaves no release; the next build recovers the stale lock and succeeds', async () => {
    const app = await makeApp(scratch('kill'));
    writeFileSync(join(app.control, 'mode'), 'sleep');
    const before = hashTree(app.repo);
    const opts = { paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.0.0']! };
    const child = execa('node', [CHILD, JSON.stringify(opts)], { reject: false });
    while (!existsSync(join(app.control, 'started'))) await new Promise((r) => setTimeout(r, 20));
    const buildPid = Number(countLines(join(app.control, 'count'))[0]!.split(' ')[2]);
    expect(buildPid).toBeGreaterThan(1); // never kill(-1)
    process.kill(child.pid!, 'SIGKILL');
    await child;
    try {
      // Contained, the build went with tend (setpriv --pdeathsig); uncontained, the orphaned build.sh leads its own group.
      if (readFileSync(`/proc/${buildPid}/cmdline`, 'utf8').includes('build.sh')) process.kill(-buildPid, 'SIGKILL');
    } catch {
      // already gone
    }
    expect(readdirSync(app.releases).sort()).toEqual(['.lock-v1.0.0', `.staging-v1.0.0-${child.pid}`]);
    expect(readBuiltReleases(app.releases)).toEqual({});
    expect(leftoverClones(app.releases, 'v1.0.0')).toEqual([String(child.pid)]);

    writeFileSync(join(app.control, 'mode'), 'ok');
    const warnings: string[] = [];
    const r = await buildRelease({ ...opts, log: (level, m) => level === 'warn' && warnings.push(m) });
    expect(r.outcome).toBe('built');
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^recovered a stale lock left by pid ${child.pid} on .* \\(build v1\\.0\\.0\\)`))]);
    expect(readdirSync(app.releases)).toEqual(['v1.0.0']);
    expect(leftoverClones(app.releases, 'v1.0.0')).toEqual([]);
    expect(validateRelease(join(app.releases, 'v1.0.0')).valid).toBe(true);
    expect(hashTree(app.repo)).toBe(before);
  });

  it('two processes building one version at once: one build runs, the other waits and reuses it', async () => {
    const app = await makeApp(scratch('concurrent'));
    writeFileSync(join(app.control, 'mode'), 'slow');
    const opts = JSON.stringify({ paths: app.paths, config: app.config, version: 'v1.1.0', commit: app.commits['v1.1.0']! });
    const [a, b] = await Promise.all([execa('node', [CHILD, opts], { reject: false }), execa('node', [CHILD, opts], { reject: false })]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    const outcomes = [a, b].map((r) => (JSON.parse(r.stdout) as { outcome: string }).outcome).sort();
    expect(outcomes).toEqual(['built', 'reused']);
    expect(`${a.stderr}${b.stderr}`).toMatch(/waiting for pid \d+ on .* \(build v1\.1\.0\)/);
    expect(countLines(join(app.control, 'count'))).toHaveLength(1);
    expect(readdirSync(app.releases)).toEqual(['v1.1.0']);
  });
});

describe.skipIf(docker.skip)('buildRelease with an image (Docker Engine)', () => {
  it('saves the image the build made, records its id and checksum, and the tar loads with docker load', async () => {
    docker.check();
    const base = scratch('image');
    const rootfs = join(base, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    writeFileSync(join(rootfs, 'bin/busybox'), readFileSync('/bin/busybox'));
    chmodSync(join(rootfs, 'bin/busybox'), 0o755);
    const tar = join(base, 'rootfs.tar');
    await execa('tar', ['-C', rootfs, '-cf', tar, 'bin']);
    const name = `tend-test-release-${process.pid}-${Date.now()}:latest`;
    const versionRepo = `tend-test-app-${process.pid}-${Date.now()}`;
    const app = await makeApp(join(base, 'app'), { image: name });
    writeFileSync(join(app.control, 'image'), `${name} ${tar}\n`);
    let id: string | undefined;
    try {
      const r = await buildRelease({ paths: app.paths, config: app.config, version: 'v1.0.0', commit: app.commits['v1.0.0']! });
      id = (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', name])).stdout.trim();
      const file = join(r.dir, 'container-image.tar');
      expect(r.manifest.image).toEqual({ name, id, sha256: sha256File(file) });
      expect(readBuiltReleases(app.releases)['v1.0.0']).toEqual({ version: 'v1.0.0', commit: app.commits['v1.0.0'], valid: true, imageId: id });
      await execa('docker', ['rmi', name]);
      const loaded = await execa('docker', ['load', '-i', file]);
      expect(loaded.stdout).toContain(id);
      expect((await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', id])).stdout.trim()).toBe(id);

      // tend loads a release by id and tags it <app>:<version>; the tar is read only when the id is missing.
      await execa('docker', ['rmi', '-f', id]);
      const release = { tar: file, id, repo: versionRepo, tag: 'v1.0.0' };
      expect(await loadReleaseImage(release)).toEqual({ loaded: true });
      expect((await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', `${versionRepo}:v1.0.0`])).stdout.trim()).toBe(id);
      expect(await loadReleaseImage(release)).toEqual({ loaded: false });
    } finally {
      await execa('docker', ['rmi', '-f', name, `${versionRepo}:v1.0.0`], { reject: false });
      if (id) await execa('docker', ['rmi', '-f', id], { reject: false });
    }
  });
});
