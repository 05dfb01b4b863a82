// `tend logs <name> [--tail N] [--since T] [--follow] [--[no-]timestamps]`: journalctl, `docker logs`, or the log files.
import type { Command } from 'commander';
import { instanceLogs, parseSince } from '../ops/logs.js';
import { OpsError } from '../ops/guard.js';
import { guarded, projectOf } from './edit-output.js';

interface LogsCliOptions {
  tail?: string;
  since?: string;
  follow?: boolean;
  timestamps?: boolean;
}

export function registerLogs(program: Command): void {
  program
    .command('logs <name>')
    .description('print an instance\'s output: journalctl for units logging to the journal (systemd.output: journal), docker logs for containers, else instances/<name>/logs/')
    .option('-n, --tail <lines>', 'only the last N lines')
    .option('--since <time>', 'only what was logged since then: a duration back from now (30s, 10m, 2h, 1d) or a date/time (2026-01-02T15:04:05.250Z), to the millisecond; by the time tend (or the Docker Engine, or the journal) recorded each line')
    .option('-f, --follow', 'keep printing new output until Ctrl-C')
    .option('--timestamps', 'print each line\'s time first, 2026-01-02T15:04:05.250Z (the default)')
    .option('--no-timestamps', 'print the lines as the app wrote them, without their time')
    .addHelpText('after', '\nExit codes: 0 ok (also after Ctrl-C with --follow), 1 errors (unknown instance, no logs yet).')
    .action((name: string, opts: LogsCliOptions, cmd: Command) => guarded(async () => {
      let tail: number | undefined;
      if (opts.tail !== undefined) {
        if (!/^\d+$/.test(opts.tail)) throw new OpsError(`--tail ${opts.tail}: not a whole number of lines`);
        tail = Number(opts.tail);
      }
      const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
      const project = projectOf(cmd);
      const abort = new AbortController();
      const stop = () => abort.abort();
      if (opts.follow) {
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }
      try {
        await instanceLogs(project, name, { stdout: process.stdout, stderr: process.stderr }, {
          ...(tail !== undefined ? { tail } : {}), ...(since ? { since } : {}), follow: opts.follow ?? false, signal: abort.signal,
          timestamps: opts.timestamps ?? true,
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      return 0;
    }));
}
