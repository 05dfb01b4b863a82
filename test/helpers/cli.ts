// Runs the built tend CLI as a real process.
import { fileURLToPath } from 'node:url';
import { execa, type Options } from 'execa';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

let built: Promise<unknown> | undefined;

/** Build dist/ once per test file (npm test typechecks but does not emit). */
export function buildOnce(): Promise<unknown> {
  built ??= execa('npm', ['run', 'build'], { cwd: REPO });
  return built;
}

export async function tend(args: string[], opts: Options = {}) {
  const r = await execa('node', [CLI, ...args], { reject: false, cwd: REPO, stripFinalNewline: false, ...opts });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
