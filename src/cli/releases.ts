// `tend releases` (list) and `tend releases build <version>`: what releases/ holds, and building one tag.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { resolveVersions } from '../release/tags.js';
import { buildRelease, BuildError, type BuildResult } from '../release/build.js';
import { compareNewestFirst } from '../release/prune.js';
import { validateRelease } from '../release/validate.js';
import { gatherReleaseUsage, requireRoot } from './release-usage.js';
import { registerPruneReleases } from './prune-releases.js';

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n') + '\n';
}

async function listReleases(opts: { json?: boolean }, cmd: Command): Promise<void> {
  const root = requireRoot(cmd);
  if (!root) return;
  const usage = await gatherReleaseUsage(root.desired, root.paths);
  const rows = [...usage.releases].sort(compareNewestFirst).map((r) => ({ ...r, inUse: usage.inUse.get(r.version) ?? [] }));
  if (opts.json) {
    const releases = rows.map((r) => ({
      version: r.version, commit: r.commit, builtAt: r.builtAt ?? null, size: r.size, valid: r.valid,
      ...(r.problem ? { problem: r.problem } : {}), ...(r.imageId ? { imageId: r.imageId } : {}), inUse: r.inUse,
    }));
    process.stdout.write(`${JSON.stringify({ formatVersion: 1, releases }, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`no releases in ${relative(process.cwd(), root.paths.releases) || '.'}\n`);
    return;
  }
  const body = rows.map((r) => [
    r.version, r.commit ? r.commit.slice(0, 7) : '-', r.builtAt ?? '-', formatSize(r.size),
    [r.inUse.join(', ') || '-', r.valid ? '' : `(invalid: ${r.problem})`].filter(Boolean).join(' '),
  ]);
  process.stdout.write(table([['VERSION', 'COMMIT', 'BUILT', 'SIZE', 'IN USE BY'], ...body]));
}

/** Shows the build's latest output line on a terminal; returns a function that clears it. */
function progress(version: string): { onOutput?: (chunk: string) => void; done: () => void } {
  if (!process.stderr.isTTY) return { done: () => undefined };
  const width = Math.max(20, (process.stderr.columns || 80) - 1);
  let shown = false;
  return {
    onOutput: (chunk) => {
      const last = chunk.split('\n').map((l) => l.trim()).filter(Boolean).at(-1);
      if (!last) return;
      process.stderr.write(`\r\x1b[K${`building ${version}: ${last}`.slice(0, width)}`);
      shown = true;
    },
    done: () => {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

async function buildCommand(version: string, opts: { force?: boolean }, cmd: Command): Promise<void> {
  const root = requireRoot(cmd);
  if (!root) return;
  const config = root.desired.config;
  const res = (await resolveVersions(config.source.repo, root.paths.root, [version], config.source.prereleases))[version]!;
  if (res.status !== 'resolved') {
    process.stderr.write(`error: ${res.status === 'not-found' ? res.reason : `cannot resolve ${version}: ${res.reason}`}\n`);
    process.exitCode = 1;
    return;
  }
  const dir = join(root.paths.releases, res.tag);
  const existing = existsSync(dir) ? validateRelease(dir) : undefined;
  const short = res.commit.slice(0, 7);
  if (existing?.valid && existing.commit === res.commit && !opts.force) {
    process.stdout.write(`reuse ${res.tag}\n`);
    return;
  }
  const why = !existing ? 'cache miss'
    : existing.commit !== res.commit && existing.commit !== '' ? 'rebuild: tag moved'
      : existing.valid ? 'rebuild: --force' : `rebuild: ${existing.problem}`;
  process.stdout.write(`build ${res.tag} (commit ${short}, ${why})\n`);
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const bar = progress(res.tag);
  let result: BuildResult;
  try {
    result = await buildRelease({
      paths: root.paths, config, version: res.tag, commit: res.commit, signal: ac.signal, force: opts.force, onOutput: bar.onOutput,
      log: (level, message) => {
        bar.done();
        process.stderr.write(`${level === 'warn' ? 'warning' : 'info'}: ${message}\n`);
      },
    });
  } catch (err) {
    bar.done();
    if (err instanceof BuildError) {
      process.stderr.write(`error: ${err.message}\n`);
      if (err.logTail.length > 0) process.stderr.write(`last ${err.logTail.length} lines of build.log:\n${err.logTail.map((l) => `  ${l}\n`).join('')}`);
      if (err.logFile && !err.message.includes(err.logFile)) process.stderr.write(`the whole build log: ${err.logFile}\n`);
      process.exitCode = err.failure === 'aborted' ? 130 : 1;
      return;
    }
    if (ac.signal.aborted) {
      process.stderr.write(`error: build of ${res.tag} was interrupted\n`);
      process.exitCode = 130;
      return;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
  bar.done();
  if (result.outcome === 'reused') {
    process.stdout.write(`reuse ${res.tag}${result.waited ? ' (built meanwhile by another process)' : ''}\n`);
    return;
  }
  const m = result.manifest;
  const parts = [`${m.artifacts.length} artifact${m.artifacts.length === 1 ? '' : 's'}`, ...(m.image ? [`image ${m.image.id.slice(0, 19)}`] : [])];
  process.stdout.write(`built ${res.tag} in ${(result.durationMs / 1000).toFixed(1)}s: ${relative(process.cwd(), result.dir) || '.'} (${parts.join(', ')})\n`);
}

export function registerReleases(program: Command): void {
  const releases = program
    .command('releases')
    .description('list built releases (version, commit, built, size, in use by)')
    .option('--json', 'print the list as JSON')
    .addHelpText('after', '\nExit codes: 0 ok, 1 error.')
    .action(listReleases);
  releases
    .command('build <version>')
    .description('build the release of a git tag (or latest) into releases/<version>/ unless a valid one of the same commit exists')
    .option('--force', 'build even when a valid release of the same commit exists')
    .addHelpText('after', '\nExit codes: 0 built or reused, 1 tag not found or build failed (exit code and the last 40 lines of build.log are printed), 130 interrupted.')
    .action(buildCommand);
  registerPruneReleases(program);
}
