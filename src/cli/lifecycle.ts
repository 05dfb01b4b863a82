// `tend start|stop <name>` (state: in the desired file, then a reconcile of that instance) and
// `tend restart <name>` (a request in instances/<name>/requests.json, then a reconcile).
import type { Command } from 'commander';
import { restartInstance, setInstanceState } from '../ops/lifecycle.js';
import { guarded, printEdits, printOutcomes, printPlanProblems, projectOf, stderrLog } from './edit-output.js';

const EXIT_HELP = '\nExit codes: 0 done, 1 errors (unknown instance, refused, a failed apply), 3 it failed its health check and is held or rolled back.';

function registerState(program: Command, verb: 'start' | 'stop', state: 'running' | 'stopped'): void {
  program
    .command(`${verb} <name>`)
    .description(`set state: ${state} in desired/<name>.yaml (comments kept) and reconcile that instance`)
    .option('--no-apply', 'only edit the desired file')
    .option('--local', 'edit the desired file even though agent.git.pull is on')
    .addHelpText('after', EXIT_HELP)
    .action((name: string, opts: { apply: boolean; local?: boolean }, cmd: Command) => guarded(async () => {
      const project = projectOf(cmd);
      const r = await setInstanceState(project, name, state, { apply: opts.apply, local: opts.local ?? false, reconcile: { log: stderrLog } });
      printEdits(r, 'state', state);
      printOutcomes(r.outcomes);
      printPlanProblems(r.reconcile, [name]);
      return r.reconcile?.exitCode ?? 0;
    }));
}

export function registerLifecycle(program: Command): void {
  registerState(program, 'start', 'running');
  registerState(program, 'stop', 'stopped');
  program
    .command('restart <name>')
    .description('request a restart (instances/<name>/requests.json: kept across agent restarts; the desired file is not touched) and reconcile that instance')
    .option('--no-apply', 'only record the request (the agent or the next reconcile restarts it)')
    .addHelpText('after', EXIT_HELP)
    .action((name: string, opts: { apply: boolean }, cmd: Command) => guarded(async () => {
      const project = projectOf(cmd);
      const r = await restartInstance(project, name, { apply: opts.apply, reconcile: { log: stderrLog } });
      process.stdout.write(`${name}: restart requested at ${r.requestedAt}\n`);
      if (r.stopped) process.stdout.write(`${name} is stopped (state: stopped): nothing to restart; tend start ${name} starts it\n`);
      printOutcomes(r.outcomes);
      printPlanProblems(r.reconcile, [name]);
      return r.reconcile?.exitCode ?? 0;
    }));
}
