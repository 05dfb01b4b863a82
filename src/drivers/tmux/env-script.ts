// A session's environment handed to tmux through a private command file (source-file), never through argv.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One value as a tmux config word: single-quoted (literal) unless it holds a `'`, then double-quoted
 * with `\`, `"` and `$` escaped. Throws, naming only the key, for a control character (tmux would
 * end the command at a newline).
 */
export function tmuxWord(key: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw new Error(`the value of ${key} holds a control character; tmux cannot carry it`);
  if (!value.includes("'")) return `'${value}'`;
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** `set-environment -t =SESSION KEY VALUE` lines for every variable. */
export function envCommands(session: string, env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`env name ${k} cannot go into a tmux session`);
      return `set-environment -t '=${session}' ${k} ${tmuxWord(k, v)}\n`;
    })
    .join('');
}

/**
 * Writes the commands into a fresh 0700 folder (file 0600) for `tmux source-file`, runs `use` with
 * its path, and removes the folder whatever happens. The values reach the tmux server by file, so
 * no tmux client's or server's command line (ps, /proc/<pid>/cmdline) ever holds one.
 */
export async function withEnvScript<T>(session: string, env: Readonly<Record<string, string>>, use: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tend-tmux-env-'));
  try {
    const file = join(dir, 'env.conf');
    writeFileSync(file, envCommands(session, env), { mode: 0o600, flag: 'wx' });
    return await use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
