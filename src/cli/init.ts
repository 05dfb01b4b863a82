// `tend init [DIR]`: a new deployment root (tend.yaml, desired/, .gitignore).
import type { Command } from 'commander';
import { relative } from 'node:path';
import { initRoot } from '../ops/init.js';
import { guarded } from './edit-output.js';
import type { GlobalOptions } from './load.js';

export function registerInit(program: Command): void {
  program
    .command('init [dir]')
    .description('make DIR (default: -C DIR, else the working dir) a deployment root: a commented tend.yaml (source.artifacts and source.run left for you to fill in), desired/ with an example, schemas/ (a copy of tend\'s schemas, which the files\' schema lines point at, so they survive cloning the root anywhere), and a .gitignore keeping releases/, instances/ and .env files out of git; an existing tend.yaml is never overwritten')
    .option('--app <name>', 'tend.yaml app: (prefix of unit, container and session names); default: the folder\'s name')
    .option('--repo <path-or-url>', 'tend.yaml source.repo: the app\'s git repository (default: . , the root itself)')
    .addHelpText('after', '\nExit codes: 0 done, 1 error (tend.yaml exists, bad app name).')
    .action((dir: string | undefined, flags: { app?: string; repo?: string }, cmd: Command) => guarded(async () => {
      const target = dir ?? cmd.optsWithGlobals<GlobalOptions>().dir ?? '.';
      const r = initRoot({ dir: target, ...(flags.app ? { app: flags.app } : {}), ...(flags.repo ? { repo: flags.repo } : {}) });
      const shown = relative(process.cwd(), r.root) || '.';
      for (const f of r.written) process.stdout.write(`wrote ${shown}/${f}\n`);
      process.stdout.write(`Deployment root ready in ${shown}: edit tend.yaml (source), check it with tend -C ${shown} validate, then tend -C ${shown} create <name>\n`);
      return 0;
    }));
}
