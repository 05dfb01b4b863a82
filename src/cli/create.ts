// `tend create <name>`: a new desired file and .env, then a reconcile of that instance; on any failure
// (Ctrl-C included) everything it made is removed again.
import type { Command } from 'commander';
import type { RuntimeChoice } from '../model/types.js';
import { createInstance } from '../ops/create.js';
import { OpsError } from '../ops/guard.js';
import { guarded, projectOf, stderrLog } from './edit-output.js';
import { askHidden, interactive, PromptCancelled, readStdin } from './prompt.js';
import { errorMessage } from '../shared/errors.js';

interface CreateFlags {
  version?: string;
  port?: string;
  runtime?: string;
  env: string[];
  secret: string[];
  apply: boolean;
  local?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `K=V` pairs into a record; `bare` collects the keys given without `=` (only where allowed). */
function pairs(list: readonly string[], flag: string, bare?: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq < 0) {
      if (!bare) throw new OpsError(`${flag} ${item}: expected KEY=VALUE`, 'invalid');
      bare.push(item);
      continue;
    }
    // The message names the key only: a secret's value never reaches the output.
    const key = item.slice(0, eq);
    if (key in out || bare?.includes(key)) throw new OpsError(`${flag} ${key} given twice`, 'invalid');
    out[key] = item.slice(eq + 1);
  }
  return out;
}

/** Values for `--secret KEY` without `=`: asked on a terminal, else one line of stdin each, in order. */
async function bareSecrets(keys: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (keys.length === 0) return out;
  if (interactive()) {
    for (const k of keys) out[k] = await askHidden(`${k} (input hidden): `);
    return out;
  }
  const lines = (await readStdin()).split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== keys.length) {
    throw new OpsError(`--secret ${keys.join(', --secret ')}: expected ${keys.length} line${keys.length > 1 ? 's' : ''} on stdin (one value per key, in order), got ${lines.length}`, 'invalid');
  }
  keys.forEach((k, i) => (out[k] = lines[i]!));
  return out;
}

export function registerCreate(program: Command): void {
  program
    .command('create <name>')
    .description('write desired/<name>.yaml (version, port, runtime, env; secret names only) and instances/<name>/.env (0600), then start the instance and wait until it is healthy; on any failure nothing is left behind')
    .option('--version <version>', 'a git tag, or latest (default: the latest tag, written as that tag)')
    .option('--port <port>', 'default: the first port from 8081 no desired file declares and nothing listens on')
    .option('--runtime <runtime>', 'systemd | launchd | docker | tmux | auto (default: tend.yaml defaults.runtime, else auto)')
    .option('--env <KEY=VALUE>', 'plain environment (repeatable); never secrets', collect, [])
    .option('--secret <KEY[=VALUE]>', 'a secret for instances/<name>/.env (repeatable); KEY alone: asked with hidden input on a terminal, else read from stdin (one line per key), so the value stays out of argv', collect, [])
    .option('--no-apply', 'only write the files (tend reconcile starts it later)')
    .option('--local', 'write the desired file even though agent.git.pull is on')
    .addHelpText('after', [
      '',
      'Secrets tend.yaml requires (source.secrets) are asked for on a terminal (hidden input); elsewhere they must be given.',
      '`tend --version` (before any command) prints tend\'s own version.',
      'Exit codes: 0 created (running and healthy), 1 error (nothing left behind), 130 interrupted (nothing left behind).',
    ].join('\n'))
    .action((name: string, flags: CreateFlags, cmd: Command) => guarded(async () => {
      const project = projectOf(cmd);
      let port: number | undefined;
      if (flags.port !== undefined) {
        if (!/^\d+$/.test(flags.port)) throw new OpsError(`--port ${flags.port}: not a port number`, 'invalid');
        port = Number(flags.port);
      }
      const env = pairs(flags.env, '--env');
      const bare: string[] = [];
      const secrets = pairs(flags.secret, '--secret', bare);
      const controller = new AbortController();
      let interrupts = 0;
      const onSignal = () => {
        interrupts++;
        if (interrupts > 1) {
          process.stderr.write('interrupted again: quitting without cleaning up (tend delete <name> removes what is left)\n');
          process.exit(130);
        }
        process.stderr.write('interrupted: removing what was made (Ctrl-C again to quit at once)\n');
        controller.abort(new Error('interrupted'));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        Object.assign(secrets, await bareSecrets(bare));
        const r = await createInstance(project, {
          name, env, secrets,
          ...(flags.version !== undefined ? { version: flags.version } : {}),
          ...(port !== undefined ? { port } : {}),
          ...(flags.runtime !== undefined ? { runtime: flags.runtime as RuntimeChoice } : {}),
          ...(interactive() ? { askSecret: (k: string) => askHidden(`${k} (required by tend.yaml; input hidden): `) } : {}),
          apply: flags.apply, local: flags.local ?? false, signal: controller.signal, log: stderrLog,
        });
        process.stdout.write(`${r.file}: version ${r.version}, port ${r.port}, runtime ${r.runtime}${r.secrets.length > 0 ? `; secrets ${r.secrets.join(', ')} in instances/${name}/.env` : ''}\n`);
        if (r.inGit) process.stdout.write(`${r.file} is in a git repository: commit it so it stays the source of truth (git add ${r.file} && git commit)\n`);
        if (!r.reconcile) {
          process.stdout.write(`Instance ${name} written, not started (--no-apply): tend reconcile starts it\n`);
          return 0;
        }
        process.stdout.write(`Instance ${name} running on ${r.url} (${r.version})\n`);
        return 0;
      } catch (err) {
        if (err instanceof PromptCancelled || controller.signal.aborted || (err instanceof OpsError && err.code === 'aborted')) {
          process.stderr.write(`error: ${err instanceof PromptCancelled ? 'cancelled; nothing was written' : errorMessage(err)}\n`);
          return 130;
        }
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }));
}
