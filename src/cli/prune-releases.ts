// `tend prune-releases`: delete all but the N newest releases, never one that an instance runs, wants or would roll back to.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { compareNewestFirst, planPrune } from '../release/prune.js';
import { pruneRelease } from '../release/remove.js';
import { gatherReleaseUsage, requireRoot } from './release-usage.js';

interface PruneOptions {
  keep?: string;
  yes?: boolean;
  dryRun?: boolean;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function prune(opts: PruneOptions, cmd: Command): Promise<void> {
  const root = requireRoot(cmd);
  if (!root) return;
  const keep = opts.keep === undefined ? root.desired.config.releases.keep : Number(opts.keep);
  if (!Number.isInteger(keep) || keep < 0 || (opts.keep !== undefined && !/^\d+$/.test(opts.keep))) {
    process.stderr.write(`error: --keep must be a whole number >= 0, not ${opts.keep}\n`);
    process.exitCode = 1;
    return;
  }
  const usage = await gatherReleaseUsage(root.desired, root.paths);
  for (const u of usage.unobserved) {
    process.stderr.write(`warning: ${u.runtime} could not be observed (${u.reason}); its instances count through instances/*/status.json and history only\n`);
  }
  const p = planPrune({ releases: usage.releases, inUse: usage.inUse, keep });
  const kept = new Map(p.keep.map((k) => [k.version, k]));
  for (const r of [...usage.releases].sort(compareNewestFirst)) {
    const k = kept.get(r.version);
    const why = k ? [...(k.newest ? [`newest ${keep}`] : []), ...(k.usedBy.length > 0 ? [`in use by ${k.usedBy.join(', ')}`] : [])] : [];
    process.stdout.write(k ? `  keep   ${r.version} (${why.join('; ')})\n` : `- delete ${r.version}\n`);
  }
  process.stdout.write(`Prune: ${p.delete.length} to delete, ${p.keep.length} to keep (the ${keep} newest and every release in use)\n`);
  if (p.delete.length === 0 || opts.dryRun) {
    if (opts.dryRun && p.delete.length > 0) process.stdout.write('dry run: nothing deleted\n');
    return;
  }
  const n = `${p.delete.length} release${p.delete.length === 1 ? '' : 's'}`;
  if (!opts.yes) {
    if (!process.stdin.isTTY) {
      process.stderr.write(`error: refusing to delete ${n} without --yes: stdin is not a terminal, so tend cannot ask (use --dry-run to preview)\n`);
      process.exitCode = 1;
      return;
    }
    if (!(await confirm(`Delete ${n} (${p.delete.join(', ')})? [y/N] `))) {
      process.stderr.write('nothing deleted\n');
      process.exitCode = 1;
      return;
    }
  }
  const infos = new Map(usage.releases.map((r) => [r.version, r]));
  const keepImageIds = new Set(p.keep.flatMap((k) => infos.get(k.version)?.imageId ?? []));
  for (const version of p.delete) {
    const outcome = await pruneRelease({
      releasesDir: root.paths.releases, version, app: root.desired.config.app, keepImageIds,
      ...(infos.get(version)?.imageId ? { imageId: infos.get(version)!.imageId! } : {}),
    });
    if (outcome.status === 'busy') process.stderr.write(`warning: skipped ${version}: a build of it is running\n`);
    else if (outcome.status === 'kept') {
      process.stderr.write(`${outcome.error ? 'error' : 'warning'}: kept ${version}: ${outcome.why}\n`);
      if (outcome.error) process.exitCode = 1;
    } else if (outcome.status === 'deleted' && outcome.image === 'removed') process.stdout.write(`deleted ${version} and its image\n`);
    else process.stdout.write(`deleted ${version}\n`);
  }
}

export function registerPruneReleases(program: Command): void {
  program
    .command('prune-releases')
    .description('delete all but the newest releases; a release that an instance runs, wants or would roll back to is always kept')
    .option('--keep <n>', 'how many of the newest releases to keep (default: releases.keep in tend.yaml, 5)')
    .option('--yes', 'delete without asking (required when stdin is not a terminal)')
    .option('--dry-run', 'show what would be deleted and delete nothing')
    .addHelpText('after', '\nExit codes: 0 done (or nothing to do), 1 refused, declined or error.')
    .action(prune);
}
