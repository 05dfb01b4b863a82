// Builds releases/<version>/ from a commit: temporary clone, build command, artifacts, image, manifest, atomic rename.
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { withFileErrors } from '../fs/io-error.js';
import type { TendConfig } from '../model/types.js';
import { sha256 } from '../shared/hash.js';
import type { RootPaths } from '../spec/config.js';
import { parseDuration } from '../shared/duration.js';
import { sha256File, tailLines } from './files.js';
import { saveImage } from './image.js';
import { acquireLock, describeOwner, pidAlive, type Lock } from '../fs/lock.js';
import { IMAGE_FILE, LOG_FILE, MANIFEST_FILE, RESERVED_NAMES, safeRelative, type ManifestArtifact, type ReleaseManifest } from './manifest.js';
import { runBuildCommand, RunError } from './run.js';
import { cloneAt, sourceForClone } from './source.js';
import { validateRelease } from './validate.js';
import { errorMessage, TendError } from '../shared/errors.js';

export type BuildFailure = 'exit' | 'timeout' | 'aborted' | 'spawn' | 'source' | 'artifact' | 'image' | 'io';

/** A failed build: what failed, the exit code when the command exited non-zero, and the end of its log. */
export class BuildError extends TendError {
  constructor(
    message: string, readonly version: string, readonly failure: BuildFailure, readonly exitCode: number | undefined, readonly logTail: string[],
    /** The failed build's whole log, kept as `releases/.build-<version>.log` (absent when interrupted or before the build ran). */
    readonly logFile?: string,
    cause?: unknown,
  ) {
    super(message, { retryable: buildRetryable(failure), ...(cause !== undefined ? { cause } : {}) });
  }
}

/** Where the log of a failed build of `version` is kept (until that version builds, or fails again). */
export function failedLogPath(releasesDir: string, version: string): string {
  return join(releasesDir, `.build-${version}.log`);
}

/** At most this many names when saying what a build produced instead of an artifact. */
const LISTED_MAX = 15;

/** `a, b/, c (and 4 more)`: the entries of `dir` (folders marked `/`, .git left out), sorted, capped. */
function listing(dir: string): string {
  let entries: { name: string; dir: boolean }[];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((d) => d.name !== '.git').map((d) => ({ name: d.name, dir: d.isDirectory() }));
  } catch {
    return '(cannot be read)';
  }
  if (entries.length === 0) return 'nothing';
  const names = entries.map((e) => `${e.name}${e.dir ? '/' : ''}`).sort();
  return `${names.slice(0, LISTED_MAX).join(', ')}${names.length > LISTED_MAX ? ` (and ${names.length - LISTED_MAX} more)` : ''}`;
}

/** What the build produced where an artifact was expected: its checkout's top level, and the artifact's own folder when that exists. */
function produced(checkout: string, artifact: string): string {
  const parent = dirname(artifact);
  const inParent = parent !== '.' && existsSync(join(checkout, parent)) ? `; ${parent}/ holds ${listing(join(checkout, parent))}` : '';
  return `the build's top level holds ${listing(checkout)}${inParent}`;
}

export interface BuildOptions {
  paths: Pick<RootPaths, 'root' | 'releases'>;
  config: TendConfig;
  /** The tag (the release folder's name). */
  version: string;
  commit: string;
  signal?: AbortSignal;
  log?: (level: 'info' | 'warn', message: string) => void;
  /** The build's output as it arrives (also written to build.log). */
  onOutput?: (chunk: string) => void;
  /** Build even when a valid release of this commit is there. */
  force?: boolean;
}

export type BuildResult =
  | { outcome: 'built'; dir: string; manifest: ReleaseManifest; durationMs: number }
  /** A valid release of the same commit was there, possibly built meanwhile by a process we waited for. */
  | { outcome: 'reused'; dir: string; manifest: ReleaseManifest; waited: boolean };

export const TAIL_LINES = 40;
const LOCK_GRACE_MS = 60_000;
/** Failures after the build command ran, whose log is kept (failedLogPath). */
const KEEP_LOG: readonly BuildFailure[] = ['exit', 'timeout', 'artifact', 'image'];

export function tendPackageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    // package.json not beside dist/ (bundled): the manifest says unknown
    return 'unknown';
  }
}

function builtBy(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry for this uid (containers)
    user = process.env.USER ?? String(process.getuid?.() ?? 'unknown');
  }
  return `${user}@${hostname()}`;
}

/** A tag that cannot name a folder under releases/ (git allows `/` in tags). */
export function versionNameProblem(version: string): string | undefined {
  return /^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(version) ? undefined : `version ${version} cannot name a release folder (use a tag of letters, digits, . _ + -)`;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Staging folders and clones left by builds of `version` that died (we hold its lock, so none is alive). */
function removeLeftovers(releasesDir: string, version: string): void {
  const sweep = (dir: string, re: RegExp) => {
    for (const n of readdirSafe(dir)) if (re.test(n)) rmSync(join(dir, n), { recursive: true, force: true });
  };
  sweep(releasesDir, new RegExp(`^\\.(staging|old)-${escapeRe(version)}-\\d+$`));
  // Clones in the shared temp dir: only those of this releases/ whose process is gone.
  const re = new RegExp(`^${escapeRe(clonePrefix(releasesDir, version))}(\\d+)$`);
  for (const n of readdirSafe(tmpdir())) {
    const m = re.exec(n);
    if (m && !pidAlive(Number(m[1]))) rmSync(join(tmpdir(), n), { recursive: true, force: true });
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    // missing: nothing to list
    return [];
  }
}

/** `tend-build-<releases dir digest>-<version>-`: clones of different roots never share a name. */
export function clonePrefix(releasesDir: string, version: string): string {
  return `tend-build-${sha256(resolve(releasesDir)).slice(0, 8)}-${version}-`;
}

/** Terminal build failures: the same commit exits, lacks its artifacts or is aborted the same way again. */
function buildRetryable(failure: BuildFailure): boolean {
  return failure !== 'exit' && failure !== 'artifact' && failure !== 'aborted';
}

class StepError extends TendError {
  constructor(message: string, readonly failure: BuildFailure, readonly exitCode?: number, cause?: unknown) {
    super(message, { retryable: buildRetryable(failure), ...(cause !== undefined ? { cause } : {}) });
  }
}

/** Copies the declared artifacts with their modes and records checksums. */
function copyArtifacts(from: string, to: string, declared: readonly string[]): ManifestArtifact[] {
  return declared.map((path) => {
    if (!safeRelative(path) || RESERVED_NAMES.includes(path)) throw new StepError(`artifact ${path} is not a usable path`, 'artifact');
    const src = join(from, path);
    const st = existsSync(src) ? statSync(src) : undefined;
    if (!st?.isFile()) throw new StepError(`the build did not produce artifact ${path} (${produced(from, path)})`, 'artifact');
    if ((st.mode & 0o111) === 0) throw new StepError(`artifact ${path} is not executable`, 'artifact');
    const dest = join(to, path);
    mkdirSync(dirname(dest), { recursive: true });
    withFileErrors('write', dest, () => {
      copyFileSync(src, dest);
      chmodSync(dest, st.mode & 0o7777);
    });
    return { path, sha256: sha256File(dest), size: statSync(dest).size, mode: (st.mode & 0o7777).toString(8).padStart(4, '0') };
  });
}

/** Moves the finished staging folder into place; an old (invalid or moved-tag) release is set aside first. */
function install(staging: string, dir: string, aside: string): void {
  if (!existsSync(dir)) {
    renameSync(staging, dir);
    return;
  }
  renameSync(dir, aside);
  try {
    renameSync(staging, dir);
  } catch (err) {
    renameSync(aside, dir);
    throw err;
  }
  rmSync(aside, { recursive: true, force: true });
}

async function build(opts: BuildOptions, timeoutMs: number): Promise<BuildResult> {
  const { version, commit, config, signal } = opts;
  const releasesDir = opts.paths.releases;
  const started = Date.now();
  const staging = join(releasesDir, `.staging-${version}-${process.pid}`);
  const clone = join(tmpdir(), `${clonePrefix(releasesDir, version)}${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  rmSync(clone, { recursive: true, force: true });
  mkdirSync(staging);
  const logFile = join(staging, LOG_FILE);
  const logFd = openSync(logFile, 'w');
  let logOpen = true;
  let done = false;
  const write = (line: string) => withFileErrors('write', logFile, () => writeSync(logFd, `${line}\n`));
  try {
    write(`# tend ${tendPackageVersion()}: building ${version} (commit ${commit}) with ${config.source.build}, ${new Date(started).toISOString()}`);
    try {
      const source = await sourceForClone(config.source.repo, opts.paths.root, releasesDir, commit, signal);
      await cloneAt(source, commit, clone, signal);
    } catch (err) {
      if (signal?.aborted) throw new StepError('build was interrupted', 'aborted');
      throw new StepError(`cannot check out ${version} (commit ${commit.slice(0, 7)}): ${errorMessage(err).split('\n')[0]}`, 'source', undefined, err);
    }
    try {
      await runBuildCommand({
        command: config.source.build, cwd: clone, timeoutMs, logFd, signal, onOutput: opts.onOutput,
        onWarning: (message) => opts.log?.('warn', message),
        env: { TEND_VERSION: version, TEND_COMMIT: commit },
      });
    } catch (err) {
      if (err instanceof RunError) throw new StepError(err.message, err.failure, err.exitCode, err);
      throw err;
    }
    const artifacts = copyArtifacts(clone, staging, config.source.artifacts);
    let image: ReleaseManifest['image'];
    if (config.source.image) {
      try {
        const saved = await saveImage(config.source.image, join(staging, IMAGE_FILE), signal);
        image = { name: config.source.image, id: saved.id, sha256: saved.sha256 };
      } catch (err) {
        throw new StepError(signal?.aborted ? 'build was interrupted' : errorMessage(err), signal?.aborted ? 'aborted' : 'image', undefined, err);
      }
    }
    const manifest: ReleaseManifest = {
      version, commit, builtAt: new Date().toISOString(), builtBy: builtBy(), tendVersion: tendPackageVersion(),
      build: config.source.build, artifacts, ...(image ? { image } : {}),
    };
    const manifestFile = join(staging, MANIFEST_FILE);
    withFileErrors('write', manifestFile, () => writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`));
    write(`# tend: built ${version} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    closeSync(logFd);
    logOpen = false;
    const dir = join(releasesDir, version);
    install(staging, dir, join(releasesDir, `.old-${version}-${process.pid}`));
    done = true;
    rmSync(failedLogPath(releasesDir, version), { force: true });
    return { outcome: 'built', dir, manifest, durationMs: Date.now() - started };
  } catch (err) {
    const step = err instanceof StepError ? err : new StepError(errorMessage(err), signal?.aborted ? 'aborted' : 'io', undefined, err);
    const tail = tailLines(logFile, TAIL_LINES);
    // The log of a build that ran and failed is kept for people to read (an interrupted one is not).
    let kept: string | undefined;
    if (KEEP_LOG.includes(step.failure)) {
      if (logOpen) {
        closeSync(logFd);
        logOpen = false;
      }
      try {
        renameSync(logFile, failedLogPath(releasesDir, version));
        kept = failedLogPath(releasesDir, version);
      } catch {
        kept = undefined;
      }
    }
    const where = kept && step.failure === 'artifact' ? `; build log: ${kept}` : '';
    throw new BuildError(`build of ${version} failed: ${step.message}${where}`, version, step.failure, step.exitCode, tail, kept, step);
  } finally {
    if (logOpen) closeSync(logFd);
    rmSync(clone, { recursive: true, force: true });
    if (!done) rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Builds `version` at `commit` into releases/<version>/ unless a valid release of that commit is there.
 * One build per version at a time across processes: a second request waits, then reuses the result.
 * Throws BuildError (with exit code and the last 40 log lines) and leaves nothing under releases/ on failure.
 */
export async function buildRelease(opts: BuildOptions): Promise<BuildResult> {
  const { version, commit, config, signal } = opts;
  const log = opts.log ?? (() => undefined);
  const bad = versionNameProblem(version);
  if (bad) throw new Error(bad);
  const timeoutMs = parseDuration(config.source.buildTimeout);
  const releasesDir = opts.paths.releases;
  mkdirSync(releasesDir, { recursive: true });
  const lockOpts = (what: string) => ({
    purpose: what, timeoutMs: timeoutMs + LOCK_GRACE_MS, signal,
    onWait: (o: Parameters<typeof describeOwner>[0]) => log('info', `waiting for ${describeOwner(o)}`),
    onStale: (o: Parameters<typeof describeOwner>[0]) => log('warn', `recovered a stale lock left by ${describeOwner(o)}`),
  });
  const { lock, waited } = await acquireLock(join(releasesDir, `.lock-${version}`), lockOpts(`build ${version}`));
  let imageLock: Lock | undefined;
  try {
    removeLeftovers(releasesDir, version);
    const dir = join(releasesDir, version);
    if (existsSync(dir) && (!opts.force || waited)) {
      const v = validateRelease(dir);
      if (v.valid && v.commit === commit && v.manifest) return { outcome: 'reused', dir, manifest: v.manifest, waited };
      log('info', v.valid ? `rebuilding ${version}: tag moved (release was built from ${v.commit.slice(0, 7)})` : `rebuilding ${version}: ${v.problem}`);
    }
    // A fixed image name (oubliette:latest) is shared by every version's build: one image build at a time.
    if (config.source.image) imageLock = (await acquireLock(join(releasesDir, '.image.lock'), lockOpts(`build ${version} (image ${config.source.image})`))).lock;
    return await build(opts, timeoutMs);
  } finally {
    imageLock?.release();
    lock.release();
  }
}
