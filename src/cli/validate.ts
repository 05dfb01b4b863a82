// `tend validate`: load tend.yaml, every desired file and its instance's .env, print all diagnostics; exit 0 ok, 1 errors.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { readInstanceStates } from '../observe/instances.js';
import { CONFIG_FILE } from '../spec/config.js';
import { envProblemDiagnostics, sortDiagnostics } from '../shared/diagnostics.js';
import { countErrors, renderDiagnostics } from '../shared/diagnostic-text.js';
import { loadRoot, type GlobalOptions } from './load.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check tend.yaml, every desired file and its instances/NAME/.env; print each problem as file:line:col: severity: message')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit codes: 0 no errors (warnings allowed), 1 errors.')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const root = loadRoot(cmd.optsWithGlobals<GlobalOptions>(), 'validate');
      const entries = root.desired?.entries ?? [];
      // Each instance's .env: a line systemd would read differently is refused by apply, so reported here.
      const states = readInstanceStates(root.paths.root, root.paths.instances, entries.map((e) => e.name));
      const envDiagnostics = Object.entries(states).flatMap(([name, s]) => envProblemDiagnostics(s.env.file, name, s.env.problems ?? []));
      const diagnostics = envDiagnostics.length > 0 ? sortDiagnostics([...root.diagnostics, ...envDiagnostics]) : root.diagnostics;
      const errors = countErrors(diagnostics);
      if (opts.json) {
        const instances = entries.map((e) => ({
          name: e.name, file: e.file, status: e.status, ...(e.status === 'valid' ? { runtime: e.runtime, version: e.spec.version } : {}),
        }));
        process.stdout.write(`${JSON.stringify({ formatVersion: 1, ok: errors === 0, instances, diagnostics }, null, 2)}\n`);
      } else {
        process.stdout.write(renderDiagnostics(diagnostics));
        const warnings = diagnostics.length - errors;
        const valid = entries.filter((e) => e.status === 'valid').length;
        process.stdout.write(
          `${root.desired ? `${valid} of ${entries.length} desired file${entries.length === 1 ? '' : 's'} valid` : existsSync(join(root.paths.root, CONFIG_FILE)) ? `${CONFIG_FILE} is invalid` : `no ${CONFIG_FILE}`}; ` +
          `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`,
        );
      }
      process.exitCode = errors > 0 ? 1 : 0;
    });
}
