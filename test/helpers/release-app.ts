// A tiny app repository for release tests: build.sh writes bin/app and obeys control files kept outside the repo.
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { TendConfig } from '../../src/model/types.js';
import { config as baseConfig } from './planner-fixtures.js';

export const git = (cwd: string, ...args: string[]) =>
  execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false', ...args], { cwd });

/**
 * build.sh reads `$CONTROL/mode`: ok (default), fail (100 lines, exit 3), sleep (touch started, sleep 30),
 * slow (sleep 1), noartifact. It appends `version commit pid` (the host's PID) to `$CONTROL/count` on every run, and runs
 * `docker import TAR NAME` when `$CONTROL/image` holds `NAME TAR`.
 */
function buildScript(control: string): string {
  return `#!/bin/sh
CONTROL='${control}'
# The host's PID (inside tend's PID namespace $$ is 1): /proc/self read by the shell itself.
pid=$$; [ -r /proc/self/stat ] && read -r pid rest < /proc/self/stat
echo "$TEND_VERSION $TEND_COMMIT $pid" >> "$CONTROL/count"
mode=$(cat "$CONTROL/mode" 2>/dev/null || echo ok)
echo "building $TEND_VERSION in mode $mode"
case "$mode" in
  fail)
    i=1
    while [ $i -le 100 ]; do echo "build line $i"; i=$((i+1)); done
    echo "error: compile failed" >&2
    exit 3 ;;
  sleep) touch "$CONTROL/started"; sleep 30 ;;
  slow) sleep 1 ;;
  noartifact) exit 0 ;;
esac
mkdir -p bin
printf '#!/bin/sh\\necho app %s\\n' "$TEND_VERSION" > bin/app
chmod +x bin/app
if [ -f "$CONTROL/image" ]; then
  read name tar < "$CONTROL/image"
  docker import "$tar" "$name" || exit 4
fi
echo done
`;
}

export interface App {
  repo: string;
  root: string;
  releases: string;
  control: string;
  commits: Record<string, string>;
  config: TendConfig;
  paths: { root: string; releases: string };
}

/** A repo with tags v1.0.0 and v1.1.0 (different commits) and a deployment root beside it. */
export async function makeApp(base: string, overrides: Partial<TendConfig['source']> = {}): Promise<App> {
  const repo = join(base, 'repo');
  const root = join(base, 'root');
  const control = join(base, 'control');
  for (const d of [repo, root, control]) mkdirSync(d, { recursive: true });
  await git(repo, 'init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'build.sh'), buildScript(control));
  chmodSync(join(repo, 'build.sh'), 0o755);
  const commits: Record<string, string> = {};
  for (const tag of ['v1.0.0', 'v1.1.0']) {
    writeFileSync(join(repo, 'VERSION'), `${tag}\n`);
    await git(repo, 'add', '.');
    await git(repo, 'commit', '-q', '-m', tag);
    await git(repo, 'tag', tag);
    commits[tag] = (await git(repo, 'rev-parse', 'HEAD')).stdout.trim();
  }
  // An uncommitted edit and a staged one: the operator's working state must survive builds untouched.
  writeFileSync(join(repo, 'VERSION'), 'work in progress\n');
  writeFileSync(join(repo, 'staged.txt'), 'staged\n');
  await git(repo, 'add', 'staged.txt');
  const config = baseConfig({ source: { repo, build: './build.sh', buildTimeout: '1m', artifacts: ['bin/app'], ...overrides } });
  const releases = join(root, 'releases');
  return { repo, root, releases, control, commits, config, paths: { root, releases } };
}

/** sha256 over every path, type, mode and content under `dir` (.git included). */
export function hashTree(dir: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string) => {
    const abs = join(dir, rel);
    const st = lstatSync(abs);
    hash.update(`${rel}\0${st.mode}\0`);
    if (st.isSymbolicLink()) hash.update(readlinkSync(abs));
    else if (st.isFile()) hash.update(readFileSync(abs));
    else if (st.isDirectory()) for (const n of readdirSync(abs).sort()) walk(rel === '' ? n : `${rel}/${n}`);
    hash.update('\0');
  };
  walk('');
  return hash.digest('hex');
}

export function countLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}
