// `tend update <name>... --version V` and `tend update --all --version V`: the version written into the
// desired files (the tag must exist), then a reconcile of those instances.
import type { Command } from 'commander';
import { previewUpdate, updateInstances } from '../ops/update.js';
import { guarded, printEdits, printOutcomes, printPlanProblems, printPreview, projectOf, stderrLog } from './edit-output.js';

interface UpdateOptions {
  version?: string;
  all?: boolean;
  apply: boolean;
  local?: boolean;
  dryRun?: boolean;
  detailedExitcode?: boolean;
}

export function registerUpdate(program: Command): void {
  program
    .command('update [names...]')
    .description('write a version (a git tag, or latest) into desired/<name>.yaml (comments kept) and reconcile those instances; a version that fails its health check is rolled back and held')
    .requiredOption('--version <version>', 'the version to run (the git tag must exist)')
    .option('--all', 'every instance whose desired file validates')
    .option('--no-apply', 'only edit the desired files')
    .option('--local', 'edit the desired files even though agent.git.pull is on')
    .option('--dry-run', 'show the file edits and the plan; write and change nothing')
    .option('--detailed-exitcode', 'with --dry-run: exit 0 when nothing to do, 2 when edits or actions are planned, 1 on errors')
    .addHelpText('after', [
      '',
      '`tend --version` (before any command) prints tend\'s own version.',
      'Exit codes: 0 done, 1 errors (unknown instance or tag, refused, a failed apply), 3 a version failed its health check and was rolled back or held.',
      'With --dry-run: 0 (--detailed-exitcode: 0 nothing to do, 2 edits or actions planned), 1 errors.',
    ].join('\n'))
    .action((names: string[], opts: UpdateOptions, cmd: Command) => guarded(async () => {
      if (opts.all && names.length > 0) throw new Error('name instances or pass --all, not both');
      if (!opts.all && names.length === 0) throw new Error('name an instance, or pass --all');
      const project = projectOf(cmd);
      const version = opts.version!;
      const target = opts.all ? { all: true as const } : { names };
      if (opts.dryRun) {
        const p = await previewUpdate(project, target, version, { local: opts.local ?? false });
        for (const s of p.skipped) process.stderr.write(`warning: ${s.name} skipped: ${s.why}\n`);
        return printPreview(p, 'version', version, opts.detailedExitcode);
      }
      const r = await updateInstances(project, target, version, {
        apply: opts.apply, local: opts.local ?? false, reconcile: { log: stderrLog },
      });
      for (const s of r.skipped) process.stderr.write(`warning: ${s.name} skipped: ${s.why}\n`);
      printEdits(r, 'version', version);
      printOutcomes(r.outcomes);
      printPlanProblems(r.reconcile, r.instances);
      const held = r.reconcile?.held ?? [];
      if (held.length > 0) process.stderr.write(`held or rolled back: ${held.join(', ')}\n`);
      return r.reconcile?.exitCode ?? 0;
    }));
}
