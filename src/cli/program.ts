// The commander program: global options and the registered subcommands.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerCreate } from './create.js';
import { registerDelete } from './delete.js';
import { registerDiscover } from './discover.js';
import { registerHistory } from './history.js';
import { registerInit } from './init.js';
import { registerLifecycle } from './lifecycle.js';
import { registerLogs } from './logs.js';
import { registerReconcile } from './reconcile.js';
import { registerReleases } from './releases.js';
import { registerRollback } from './rollback.js';
import { registerSecret } from './secret.js';
import { registerStatus } from './status.js';
import { registerUpdate } from './update.js';
import { registerValidate } from './validate.js';

export function tendVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const DIR_HELP = 'deployment root (the folder holding tend.yaml); default: the working dir or its nearest parent with one';

/**
 * tend's own options are positional (read only before the subcommand), so a subcommand's `--version`
 * (`tend update web --version v1.1.0`) never reaches tend's; `-C DIR` still works after the
 * subcommand because every subcommand gets its own copy (commands read it with optsWithGlobals).
 */
function dirOnEverySubcommand(cmd: Command): void {
  for (const sub of cmd.commands) {
    if (!sub.options.some((o) => o.long === '--dir')) sub.option('-C, --dir <dir>', DIR_HELP);
    dirOnEverySubcommand(sub);
  }
}

export function buildProgram(): Command {
  const program = new Command('tend')
    .description('Keep long-running service instances converged to desired/*.yaml (systemd, launchd, Docker, tmux).')
    .version(tendVersion(), '-V, --version', "print tend's own version")
    .option('-C, --dir <dir>', DIR_HELP)
    .enablePositionalOptions()
    .showHelpAfterError()
    .addHelpText('after', '\nEnvironment: TEND_DESIRED_DIR, TEND_RELEASES_DIR, TEND_INSTANCES_DIR override paths from tend.yaml.');
  registerValidate(program);
  registerReconcile(program);
  registerReleases(program);
  registerDiscover(program);
  registerRollback(program);
  registerStatus(program);
  registerHistory(program);
  registerAgent(program);
  registerInit(program);
  registerCreate(program);
  registerDelete(program);
  registerSecret(program);
  registerLifecycle(program);
  registerUpdate(program);
  registerLogs(program);
  // Last: after every register call above.
  dirOnEverySubcommand(program);
  return program;
}
