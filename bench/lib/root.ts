// A throwaway deployment root on the real backends: the fixture app (git repo with tags and build.sh),
// tend.yaml with a unique app name, desired files, and removal of everything made under that name.
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePort, makeFixtureRepo } from '../../test/fixtures/app.js';
import { engine, removeContainersLabelled, removeImages } from '../../test/helpers/docker.js';
import { unitDirOf } from '../../src/drivers/systemd/unit.js';
import type { BenchContext } from './context.js';
import { timedOk, type RunOptions, type RunResult } from './proc.js';

/** Ports handed out in this process: the OS may give a just-released free port twice. */
const handedOut = new Set<number>();

/** A free port not handed out before in this run. */
export async function uniquePort(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (!handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
}

export type BenchRuntime = 'docker' | 'tmux' | 'systemd';

/** A short unique app name (unit, container and session prefix): `b<pid><hex>`. */
export function uniqueApp(): string {
  return `b${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
}

/**
 * test/fixtures/app.ts reads its templates next to itself; compiled into dist-bench/ that is
 * dist-bench/test/fixtures/oubliette, so put a copy there.
 */
function ensureFixtureTemplates(repo: string): void {
  const compiled = fileURLToPath(new URL('../../test/fixtures/oubliette', import.meta.url));
  const source = join(repo, 'test', 'fixtures', 'oubliette');
  if (compiled !== source) cpSync(source, compiled, { recursive: true });
}

export interface InstanceFields {
  runtime: BenchRuntime;
  port: number;
  version?: string;
  env?: Record<string, string>;
  /** Extra top-level YAML lines. */
  extra?: string[];
}

export interface BenchRoot {
  app: string;
  dir: string;
  /** The fixture image build.sh makes (`<app>-img:build`) when Docker is used. */
  image: string | undefined;
  tmuxSocket: string;
  env: Record<string, string>;
  /** Runs `tend -C <root> ...args` (throws unless the exit code is in `ok`, default [0]). */
  tend(args: string[], opts?: RunOptions & { ok?: number[] }): Promise<RunResult>;
  writeInstance(name: string, f: InstanceFields): void;
  removeInstanceFile(name: string): void;
  /** Removes containers, units and sessions of this app (not the root folder, nor images). */
  stopAll(): Promise<void>;
  /** stopAll, images and the root folder; also registered on the cleanup stack. */
  destroy(): Promise<void>;
}

export interface RootOptions {
  runtimes: BenchRuntime[];
  concurrency?: number;
  /** Extra lines under tend.yaml's `agent:` key (e.g. `resync: "*\/2 * * * * *"`); tend's defaults otherwise. */
  agent?: string[];
  label: string;
}

export async function createRoot(ctx: BenchContext, opts: RootOptions): Promise<BenchRoot> {
  ensureFixtureTemplates(ctx.repo);
  const app = uniqueApp();
  const dir = ctx.scratch(`${opts.label}-${app}`);
  const useDocker = opts.runtimes.includes('docker');
  const image = useDocker ? `${app}-img:build` : undefined;
  const tmuxSocket = `tend-bench-${app}`;
  const env: Record<string, string> = { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.() ?? 0}` };

  const stopAll = async () => {
    if (useDocker) await removeContainersLabelled(engine(), [`tend.app=${app}`]);
    if (opts.runtimes.includes('systemd')) await removeUserUnits(app, env);
    if (opts.runtimes.includes('tmux')) {
      await execa('tmux', ['-L', tmuxSocket, 'kill-server'], { reject: false, stdin: 'ignore' });
      rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, tmuxSocket), { force: true });
    }
  };
  const removeAppImages = async () => {
    if (!useDocker) return;
    const docker = engine();
    const tagged = await docker.listImages({ filters: { reference: [`${app}:*`, image!] } }).catch(() => []);
    await removeImages(docker, [...new Set(tagged.flatMap((i) => i.RepoTags ?? []))]);
  };
  const destroy = ctx.cleanups.add(`deployment ${app}`, async () => {
    await stopAll();
    await removeAppImages();
    rmSync(dir, { recursive: true, force: true });
  });

  const fixture = await makeFixtureRepo(join(dir, 'app'), image ? { image } : {});
  mkdirSync(join(dir, 'desired'));
  writeFileSync(join(dir, 'tend.yaml'), [
    'apiVersion: tend/v1', `app: ${app}`,
    'source:', `  repo: ${fixture.repo}`, '  build: ./build.sh', '  artifacts: [bin/oubliette]',
    ...(image ? [`  image: ${image}`] : []),
    '  run:', '    artifact: bin/oubliette', '    args: [--port, "${port}"]',
    'systemd:', '  scope: user', '  restartSec: 1s', '  stopTimeout: 10s',
    'tmux:', `  socket: ${tmuxSocket}`,
    'docker:', '  discovery:', '    enabled: false',
    ...(opts.concurrency || opts.agent?.length
      ? ['agent:', ...(opts.concurrency ? [`  concurrency: ${opts.concurrency}`] : []), ...(opts.agent ?? []).map((l) => `  ${l}`)]
      : []),
    '',
  ].join('\n'));

  return {
    app, dir, image, tmuxSocket, env,
    tend: (args, o = {}) => timedOk(process.execPath, [ctx.cli, '-C', dir, ...args], { ...o, env: { ...process.env, ...env, ...o.env } }),
    writeInstance(name, f) {
      const envLines = Object.entries(f.env ?? {}).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
      writeFileSync(join(dir, 'desired', `${name}.yaml`), [
        `version: ${f.version ?? 'v1.0.0'}`, `runtime: ${f.runtime}`, `port: ${f.port}`,
        ...(envLines.length > 0 ? ['env:', ...envLines] : []),
        ...(f.runtime === 'docker' ? ['docker:', '  containerPort: 8080'] : []),
        ...(f.extra ?? []), '',
      ].join('\n'));
    },
    removeInstanceFile: (name) => rmSync(join(dir, 'desired', `${name}.yaml`), { force: true }),
    stopAll,
    destroy,
  };
}

/** Stops, disables and deletes the user units named `<app>-*`. */
async function removeUserUnits(app: string, env: Record<string, string>): Promise<void> {
  const ctl = (args: string[]) => execa('systemctl', ['--user', ...args], { reject: false, stdin: 'ignore', env });
  const dir = unitDirOf('user');
  const units = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(`${app}-`)) : [];
  const loaded = (await ctl(['list-units', '--all', '--plain', '--no-legend', `${app}-*`])).stdout
    .split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((u) => u.startsWith(`${app}-`));
  const all = [...new Set([...units, ...loaded])];
  if (all.length === 0) return;
  await ctl(['stop', '--', ...all]);
  await ctl(['disable', '--no-reload', '--', ...all]);
  for (const u of units) rmSync(join(dir, u), { force: true, recursive: true });
  await ctl(['daemon-reload']);
  await ctl(['reset-failed', '--', ...all]);
}

/** The runtimes converged instances are split over, in this order (instance i gets SPLIT[i % 3]). */
export const SPLIT: BenchRuntime[] = ['docker', 'tmux', 'systemd'];

/** `5 docker, 5 tmux, 5 systemd`: how `n` instances split over SPLIT. */
export function splitText(n: number): string {
  return SPLIT.map((rt, k) => `${Math.floor(n / 3) + (k < n % 3 ? 1 : 0)} ${rt}`).join(', ');
}

/**
 * Adds desired files i<from>..i<to - 1> (runtimes split over SPLIT, a free port each, release v1.0.0,
 * which the caller has built), converges them with `tend reconcile` and checks that a dry-run then plans
 * every instance `unchanged`. Returns the converge's wall time in ms.
 */
export async function growConverged(root: BenchRoot, from: number, to: number): Promise<number> {
  for (let i = from; i < to; i++) root.writeInstance(`i${String(i).padStart(2, '0')}`, { runtime: SPLIT[i % 3]!, port: await uniquePort() });
  const convergeMs = (await root.tend(['reconcile'], { timeoutMs: 900_000 })).ms;
  const check = await root.tend(['reconcile', '--dry-run', '--json', '--detailed-exitcode'], { ok: [0, 2] });
  const summary = (JSON.parse(check.stdout) as { summary: Record<string, number> }).summary;
  if (check.exitCode !== 0 || summary.unchanged !== to) {
    throw new Error(`not converged after reconcile (exit ${check.exitCode}): ${JSON.stringify(summary)}\n${check.stderr}`);
  }
  return convergeMs;
}
