// `tend secret set <name> KEY [VALUE|-]` and `tend secret unset <name> KEY`: edits of instances/<name>/.env
// followed by a reconcile of that instance. Values never appear in the output.
import type { Command } from 'commander';
import type { InstancePlan } from '../model/plan.js';
import { OpsError } from '../ops/guard.js';
import { setSecret, unsetSecret, type SecretResult } from '../ops/secret.js';
import { guarded, printOutcomes, printPlanProblems, projectOf, stderrLog } from './edit-output.js';
import { askHidden, interactive, PromptCancelled, readStdinValue } from './prompt.js';

function planLine(ip: InstancePlan | undefined): string | undefined {
  if (!ip || ip.change === 'unchanged') return undefined;
  const fields = ip.fields.map((f) => (f.sensitive ? `${f.field}: (sensitive)` : f.field)).join(', ');
  return `plan: ${ip.change} ${ip.name}${ip.disruption !== 'none' ? ` [${ip.disruption}]` : ''}${fields ? ` (${fields})` : ''}`;
}

function report(r: SecretResult, name: string, what: string): number {
  process.stdout.write(`${r.file}: ${r.changed ? what : `${what.split(' ')[0]} unchanged`}\n`);
  if (!r.reconcile) return 0;
  const line = planLine(r.reconcile.plans[0]?.instances.find((i) => i.name === name));
  if (line) process.stdout.write(`${line}\n`);
  if (r.outcome) printOutcomes([r.outcome]);
  printPlanProblems(r.reconcile, [name]);
  return r.reconcile.exitCode;
}

export function registerSecret(program: Command): void {
  const secret = program
    .command('secret')
    .description('change a secret of an instance (instances/<name>/.env, 0600) and reconcile it: a changed value restarts it');

  secret
    .command('set <name> <key> [value]')
    .description('set KEY in instances/<name>/.env: VALUE, - (read from stdin), or nothing (asked with hidden input on a terminal; keeps it out of shell history)')
    .option('--no-apply', 'only edit the .env file')
    .addHelpText('after', '\nExit codes: 0 done, 1 error, 3 the instance failed its health check afterwards and was rolled back or held, 130 the prompt was cancelled (nothing changed).')
    .action((name: string, key: string, value: string | undefined, flags: { apply: boolean }, cmd: Command) => guarded(async () => {
      const project = projectOf(cmd);
      let v: string;
      try {
        if (value === '-') v = await readStdinValue();
        else if (value !== undefined) v = value;
        else if (interactive()) v = await askHidden(`${key} for ${name} (input hidden): `);
        else throw new OpsError(`no value for ${key}: give it, or - to read it from stdin (a terminal would be asked)`, 'invalid');
      } catch (err) {
        if (err instanceof PromptCancelled) {
          process.stderr.write('cancelled; nothing changed\n');
          return 130;
        }
        throw err;
      }
      const r = await setSecret(project, { name, key, value: v, apply: flags.apply, reconcile: { log: stderrLog } });
      return report(r, name, `${key} set`);
    }));

  secret
    .command('unset <name> <key>')
    .description('remove KEY from instances/<name>/.env (other lines and comments kept)')
    .option('--force', 'remove it even though tend.yaml source.secrets or the desired file requires it (the instance is then blocked)')
    .option('--no-apply', 'only edit the .env file')
    .addHelpText('after', '\nExit codes: 0 done, 1 error or refused, 3 the instance failed its health check afterwards and was rolled back or held.')
    .action((name: string, key: string, flags: { apply: boolean; force?: boolean }, cmd: Command) => guarded(async () => {
      const project = projectOf(cmd);
      const r = await unsetSecret(project, { name, key, force: flags.force ?? false, apply: flags.apply, reconcile: { log: stderrLog } });
      return report(r, name, `${key} removed`);
    }));
}
