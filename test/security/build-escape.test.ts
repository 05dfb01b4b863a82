// Attack test (issue 13): a build cannot leave processes behind — setsid -f, nohup & and double-fork daemons end with it.
import { chmodSync, closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildRelease, BuildError, clonePrefix } from '../../src/release/build.js';
import { probeContainment } from '../../src/release/contain.js';
import { runBuildCommand } from '../../src/release/run.js';
import { buildOnce } from '../helpers/cli.js';
import { git, makeApp, type App } from '../helpers/release-app.js';
import { useScratch } from '../helpers/scratch.js';

const scratch = useScratch();
const CHILD = fileURLToPath(new URL('../helpers/build-release.mjs', import.meta.url));
const VERSION = 'v2.0.0';
/** Our daemons run `sleep <NAP>.<n>`: the length marks them in /proc/<pid>/cmdline, so clean-up never kills a reused PID. */
const NAP = String(2000 + Math.floor(Math.random() * 1000));
const KINDS = ['build.sh', 'double-fork', 'nohup', 'setsid'];
const GONE_DEADLINE_MS = 15_000;

/**
 * A build.sh that starts three daemons with closed stdio (setsid -f, nohup &, a double fork). Each appends
 * `<host pid> <kind>` to $CONTROL/pids-<mode> (read from /proc/self/stat: the host's PID even inside a PID
 * namespace), as does build.sh itself. Modes: ok, fail (exit 3), wait (touch started-<mode>, then sleep).
 */
function escapeScript(control: string): string {
  const record = (kind: string) => `read -r pid rest < /proc/self/stat; echo "$pid ${kind}" >> "$1"; exec sleep "$2"`;
  return `#!/bin/sh
CONTROL='${control}'
mode=$(cat "$CONTROL/mode")
out="$CONTROL/pids-$mode"
read -r self rest < /proc/self/stat
echo "$self build.sh" >> "$out"
setsid -f sh -c '${record('setsid')}' sh "$out" ${NAP}.1 </dev/null >/dev/null 2>&1
nohup sh -c '${record('nohup')}' sh "$out" ${NAP}.2 </dev/null >/dev/null 2>&1 &
( sh -c '${record('double-fork')}' sh "$out" ${NAP}.3 </dev/null >/dev/null 2>&1 & )
i=0
while [ "$(wc -l < "$out")" -lt 4 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
echo "daemons started"
case "$mode" in
  fail) echo "error: compile failed" >&2; exit 3 ;;
  ok) ;;
  *) touch "$CONTROL/started-$mode"; exec sleep ${NAP}.0 ;;
esac
mkdir -p bin
printf '#!/bin/sh\\necho app\\n' > bin/app
chmod +x bin/app
`;
}

const apps: App[] = [];

/** makeApp's repository with the escaping build.sh committed and tagged v2.0.0. */
async function escapeApp(mode: string, buildTimeout = '1m'): Promise<App & { commit: string }> {
  const app = await makeApp(scratch('escape'), { buildTimeout });
  apps.push(app);
  writeFileSync(join(app.repo, 'build.sh'), escapeScript(app.control));
  chmodSync(join(app.repo, 'build.sh'), 0o755);
  writeFileSync(join(app.control, 'mode'), mode);
  await git(app.repo, 'add', 'build.sh');
  await git(app.repo, 'commit', '-q', '-m', 'escaping build');
  await git(app.repo, 'tag', VERSION);
  return { ...app, commit: (await git(app.repo, 'rev-parse', 'HEAD')).stdout.trim() };
}

interface Recorded { pid: number; kind: string }

function recorded(app: App, mode: string): Recorded[] {
  const file = join(app.control, `pids-${mode}`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [pid, kind] = l.split(' ');
    return { pid: Number(pid), kind: kind! };
  }).filter((r) => Number.isInteger(r.pid) && r.pid > 1);
}

/** The process is running (not a zombie) and is still ours: a `sleep <NAP>.n` or a build.sh in one of this app's clones. */
function alive(app: App, pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return (args[0] === 'sleep' && args[1]!.startsWith(`${NAP}.`)) || args.some((a) => a.includes(clonePrefix(app.releases, VERSION)));
  } catch {
    return false;
  }
}

function killSurvivors(app: App, survivors: Recorded[]): void {
  for (const r of survivors) {
    try {
      if (r.pid > 1 && alive(app, r.pid)) process.kill(r.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Every process the build recorded must be gone within a generous deadline; survivors are killed, then the test fails. */
async function expectNoneLeft(app: App, mode: string): Promise<void> {
  const rec = recorded(app, mode);
  expect(rec.map((r) => r.kind).sort(), 'every daemon recorded its PID').toEqual(KINDS);
  const deadline = Date.now() + GONE_DEADLINE_MS;
  let live = rec.filter((r) => alive(app, r.pid));
  while (live.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    live = live.filter((r) => alive(app, r.pid));
  }
  killSurvivors(app, live);
  expect(live.map((r) => `${r.kind} (pid ${r.pid})`), `processes the build left behind (now killed by the test) after ${mode}`).toEqual([]);
}

async function waitFor(file: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} never appeared`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function expectBuildError(p: Promise<unknown>): Promise<BuildError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BuildError);
  return err as BuildError;
}

beforeAll(async () => {
  await buildOnce();
}, 120_000);

// Whatever a failed assertion left running is killed before the next test.
afterEach(() => {
  for (const app of apps.splice(0)) {
    for (const n of readdirSync(app.control)) if (n.startsWith('pids-')) killSurvivors(app, recorded(app, n.slice(5)));
  }
});

describe.skipIf(process.platform !== 'linux')('a build cannot leave processes behind', () => {
  it('a successful build: its setsid -f, nohup and double-forked daemons end with it', async () => {
    const app = await escapeApp('ok');
    const r = await buildRelease({ paths: app.paths, config: app.config, version: VERSION, commit: app.commit });
    expect(r.outcome).toBe('built');
    expect(readFileSync(join(r.dir, 'build.log'), 'utf8')).toContain('daemons started');
    await expectNoneLeft(app, 'ok');
  });

  it('a failed build (exit 3): nothing it started remains', async () => {
    const app = await escapeApp('fail');
    const err = await expectBuildError(buildRelease({ paths: app.paths, config: app.config, version: VERSION, commit: app.commit }));
    expect(err).toMatchObject({ failure: 'exit', exitCode: 3 });
    expect(err.logTail.at(-1)).toBe('error: compile failed');
    await expectNoneLeft(app, 'fail');
  });

  it('a build aborted mid-build (the agent\'s SIGTERM, Ctrl-C): nothing it started remains', async () => {
    const app = await escapeApp('abort');
    const ac = new AbortController();
    const p = buildRelease({ paths: app.paths, config: app.config, version: VERSION, commit: app.commit, signal: ac.signal });
    await waitFor(join(app.control, 'started-abort'));
    const t0 = Date.now();
    ac.abort();
    const err = await expectBuildError(p);
    expect(err.failure).toBe('aborted');
    expect(Date.now() - t0).toBeLessThan(8_000);
    await expectNoneLeft(app, 'abort');
  });

  it('a build past its timeout: nothing it started remains', async () => {
    const app = await escapeApp('timeout', '2s');
    const err = await expectBuildError(buildRelease({ paths: app.paths, config: app.config, version: VERSION, commit: app.commit }));
    expect(err.failure).toBe('timeout');
    await expectNoneLeft(app, 'timeout');
  });

  it('tend itself killed with SIGKILL mid-build: the build and its daemons go with it', async () => {
    const app = await escapeApp('killed');
    const opts = { paths: app.paths, config: app.config, version: VERSION, commit: app.commit };
    const child = execa('node', [CHILD, JSON.stringify(opts)], { reject: false });
    await waitFor(join(app.control, 'started-killed'));
    process.kill(child.pid!, 'SIGKILL');
    await child;
    await expectNoneLeft(app, 'killed');
  });
});

describe('where containment is not available', () => {
  it.skipIf(process.platform !== 'linux')('here (Linux, root or user namespaces allowed) builds run in a PID namespace', async () => {
    expect(await probeContainment()).toMatchObject({ kind: 'pid-namespace' });
  });

  it('off Linux there is no PID namespace: the process group, with the reason', async () => {
    expect(await probeContainment('darwin', 0)).toEqual({ kind: 'process-group', reason: 'PID namespaces are Linux-only, this is darwin' });
  });

  it('the build still runs, and build.log and the build\'s output say it is not contained and why', async () => {
    const dir = scratch('uncontained');
    writeFileSync(join(dir, 'build.sh'), '#!/bin/sh\necho built\n', { mode: 0o755 });
    const logFile = join(dir, 'build.log');
    const fd = openSync(logFile, 'w');
    const warnings: string[] = [];
    try {
      await runBuildCommand({
        command: './build.sh', cwd: dir, env: {}, timeoutMs: 30_000, logFd: fd, onWarning: (m) => warnings.push(m),
        containment: { kind: 'process-group', reason: 'unshare failed: Operation not permitted' },
      });
    } finally {
      closeSync(fd);
    }
    expect(warnings).toEqual([expect.stringMatching(/^build processes are not contained \(unshare failed: Operation not permitted\): .*setsid.*docs\/troubleshooting\.md/)]);
    expect(readFileSync(logFile, 'utf8')).toBe(`# tend: warning: ${warnings[0]}\nbuilt\n`);
  });
});
