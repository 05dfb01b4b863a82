// The commander program: global options and the registered subcommands.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Each subcommand's module, loaded only when needed: `tend reconcile ...` loads the reconcile command
 * and what it imports, not the other sixteen (Node's start-up is most of a no-op run's time).
 * `names` are the commands a module registers; test/cli.test.ts checks the table against the program.
 */
export const COMMAND_MODULES: readonly { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['validate'], load: async () => (await import('./validate.js')).registerValidate },
  { names: ['reconcile'], load: async () => (await import('./reconcile.js')).registerReconcile },
  { names: ['releases', 'prune-releases'], load: async () => (await import('./releases.js')).registerReleases },
  { names: ['discover'], load: async () => (await import('./discover.js')).registerDiscover },
  { names: ['rollback', 'retry'], load: async () => (await import('./rollback.js')).registerRollback },
  { names: ['status'], load: async () => (await import('./status.js')).registerStatus },
  { names: ['history'], load: async () => (await import('./history.js')).registerHistory },
  { names: ['agent'], load: async () => (await import('./agent.js')).registerAgent },
  { names: ['init'], load: async () => (await import('./init.js')).registerInit },
  { names: ['create'], load: async () => (await import('./create.js')).registerCreate },
  { names: ['delete'], load: async () => (await import('./delete.js')).registerDelete },
  { names: ['secret'], load: async () => (await import('./secret.js')).registerSecret },
  { names: ['start', 'stop', 'restart'], load: async () => (await import('./lifecycle.js')).registerLifecycle },
  { names: ['update'], load: async () => (await import('./update.js')).registerUpdate },
  { names: ['logs'], load: async () => (await import('./logs.js')).registerLogs },
];

/** The subcommand named in argv (after tend's own options), if any. */
export function commandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-C' || a === '--dir') i++;
    else if (a === '--') return args[i + 1];
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

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

/**
 * The program with every subcommand, or, given the arguments (`process.argv.slice(2)`), with only the
 * one they name when it is known (help, errors and suggestions for anything else see them all).
 */
export async function buildProgram(args?: readonly string[]): Promise<Command> {
  const program = new Command('tend')
    .description('Keep long-running service instances converged to desired/*.yaml (systemd, launchd, Docker, tmux).')
    .version(tendVersion(), '-V, --version', "print tend's own version")
    .option('-C, --dir <dir>', DIR_HELP)
    .enablePositionalOptions()
    .showHelpAfterError()
    .addHelpText('after', '\nEnvironment: TEND_DESIRED_DIR, TEND_RELEASES_DIR, TEND_INSTANCES_DIR override paths from tend.yaml.');
  const named = args ? commandOf(args) : undefined;
  const one = named !== undefined ? COMMAND_MODULES.find((m) => m.names.includes(named)) : undefined;
  const version = args !== undefined && named === undefined && args.some((a) => a === '-V' || a === '--version');
  const modules = one ? [one] : version ? [] : COMMAND_MODULES;
  for (const register of await Promise.all(modules.map((m) => m.load()))) register(program);
  // Last: after every register call above.
  dirOnEverySubcommand(program);
  // An unknown command (`tend stauts`) gets commander's `(Did you mean status?)` and a pointer to the
  // help, not the whole help; subcommands keep theirs (set above, before they were registered).
  program.showHelpAfterError('(tend --help lists the commands)');
  return program;
}
