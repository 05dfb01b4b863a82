// `tend update <name>... --version V` and `tend update --all --version V`: the version written into the
// desired files (the tag must exist), then a reconcile of those instances.
import type { Command } from 'commander';
import { updateInstances } from '../ops/update.js';
import { guarded, printEdits, printOutcomes, printPlanProblems, projectOf, stderrLog } from './edit-output.js';

interface UpdateOptions {
  version?: string;
  all?: boolean;
  apply: boolean;
  local?: boolean;
}

export function registerUpdate(program: Command): void {
  program
    .command('update [names...]')
    .description('write a version (a git tag, or latest) into desired/<name>.yaml (comments kept) and reconcile those instances; a version that fails its health check is rolled back and held')
    .requiredOption('--version <version>', 'the version to run (the git tag must exist)')
    .option('--all', 'every instance whose desired file validates')
    .option('--no-apply', 'only edit the desired files')
    .option('--local', 'edit the desired files even though agent.git.pull is on')
    .addHelpText('after', '\n`tend --version` (before any command) prints tend\'s own version.\nExit codes: 0 done, 1 errors (unknown instance or tag, refused, a failed apply), 3 a version failed its health check and was rolled back or held.')
    .action((names: string[], opts: UpdateOptions, cmd: Command) => guarded(async () => {
      if (opts.all && names.length > 0) throw new Error('name instances or pass --all, not both');
      if (!opts.all && names.length === 0) throw new Error('name an instance, or pass --all');
      const project = projectOf(cmd);
      const version = opts.version!;
      const r = await updateInstances(project, opts.all ? { all: true } : { names }, version, {
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
