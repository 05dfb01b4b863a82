// `tend delete <name>`: after a confirmation, removes what tend owns of the instance, instances/<name>/
// and desired/<name>.yaml.
import type { Command } from 'commander';
import { deleteInstance, previewDelete } from '../ops/delete.js';
import { OpsError } from '../ops/guard.js';
import { guarded, projectOf, stderrLog } from './edit-output.js';
import { confirm, interactive } from './prompt.js';

interface DeleteFlags {
  force?: boolean;
  yes?: boolean;
  local?: boolean;
}

export function registerDelete(program: Command): void {
  program
    .command('delete <name>')
    .description('remove an instance for good: stop and delete its unit/container/session (only what tend owns), instances/<name>/ (history, logs, .env) and desired/<name>.yaml')
    .option('--yes', 'do not ask for confirmation')
    .option('--force', 'do not ask for confirmation (as --yes)')
    .option('--local', 'remove the desired file even though agent.git.pull is on')
    .addHelpText('after', '\nAsks for confirmation on a terminal; elsewhere it needs --yes or --force.\nExit codes: 0 deleted, 1 error, refused or declined (nothing removed).')
    .action((name: string, flags: DeleteFlags, cmd: Command) => guarded(async () => {
      const project = projectOf(cmd);
      const preview = await previewDelete(project, name);
      const what = [...preview.owned, ...(preview.instanceDir ? [`${preview.instanceDir} (history, logs, secrets)`] : []), ...preview.files];
      for (const u of preview.unobserved) process.stderr.write(`warning: cannot observe ${u.runtime} (${u.reason})\n`);
      if (!flags.yes && !flags.force) {
        if (!interactive()) throw new OpsError(`tend delete ${name} asks for confirmation; not on a terminal, so pass --yes (or --force)`, 'refused');
        process.stderr.write(`This removes: ${what.join(', ')}\n`);
        if (!(await confirm(`Delete instance ${name}?`))) {
          process.stderr.write('nothing deleted\n');
          return 1;
        }
      }
      const r = await deleteInstance(project, { name, local: flags.local ?? false, log: stderrLog });
      for (const d of r.deleted) process.stdout.write(`deleted ${d}\n`);
      if (r.instanceDir) process.stdout.write(`removed ${r.instanceDir}\n`);
      for (const f of r.files) process.stdout.write(`removed ${f}\n`);
      if (r.inGit) process.stdout.write(`${r.files.join(' ')} ${r.files.length > 1 ? 'were' : 'was'} in a git repository: commit the removal so it stays the source of truth (git rm ${r.files.join(' ')} && git commit)\n`);
      process.stdout.write(`Instance ${name} deleted\n`);
      return 0;
    }));
}
