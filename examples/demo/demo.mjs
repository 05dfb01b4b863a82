#!/usr/bin/env node
// npm run demo: tend end to end on this machine. Makes a sample app repository with three tagged
// releases in a temporary directory, brings up three instances on the best runtime here (systemd
// user manager, else tmux, else Docker, else tmux installed with apt-get as root), shows
// `tend status`, bumps one instance to the broken v2.0.0 and shows the automatic rollback, then
// removes everything it made, also on failure and on Ctrl-C. Exit 0 only when every step did what
// it should. Env: TEND_DEMO_RUNTIME=systemd|tmux|docker to pick the runtime yourself.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
/* global fetch, AbortSignal */
import { bold, dim, leftovers, pickRuntime, run, running, say, signal, sweep } from './lib.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'dist', 'cli', 'main.js');
const APP_FILES = fileURLToPath(new URL('./app/', import.meta.url));
const RUNTIMES = ['systemd', 'tmux', 'docker'];
const started = Date.now();
const app = `demo${process.pid}`;
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.() ?? 0}` };
for (const k of ['TEND_DESIRED_DIR', 'TEND_RELEASES_DIR', 'TEND_INSTANCES_DIR']) delete env[k];

class Failure extends Error {}
let interrupted;
let cleaningUp = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (cleaningUp || interrupted) return say(dim(`(${sig}: cleaning up, one moment)`));
    interrupted = sig;
    say(`\n${sig}: stopping the demo and removing what it made`);
    if (running.child) signal(running.child, 'SIGINT');
  });
}

const step = (n, title) => say(`\n${bold(`── ${n}. ${title}`)}`);
const note = (s) => say(dim(s));
const ok = (s) => say(`  ✔ ${s}`);
function check(cond, what) {
  if (interrupted) throw new Failure(`interrupted by ${interrupted}`);
  if (!cond) throw new Failure(`expected: ${what}`);
  ok(what);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer().on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function get(port, path) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
    return { status: res.status, body: (await res.text()).trim() };
  } catch (e) {
    return { status: 0, body: String(e.cause?.code ?? e.message) };
  }
}

// ------------------------------------------------------------------------------ the steps --

let root;
let runtime;
let tendEnv;
const instances = { web: { version: 'v1.1.0' }, api: { version: 'v1.1.0' }, admin: { version: 'v1.0.0' } };

async function tend(args, opts = {}) {
  const t0 = Date.now();
  const r = await run(process.execPath, [CLI, '-C', root, ...args], { env: tendEnv, echo: `tend ${args.join(' ')}`, ...opts });
  say(dim(`  (${r.error ? r.error.message : `exit ${r.code}`}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`));
  return r;
}
const git = (args, opts = {}) => run('git', ['-C', join(root, 'app'), ...args], { env, show: false, ...opts });

const PHASES = ['Ready', 'Progressing', 'Interrupted', 'Degraded', 'RolledBack', 'Failed', 'Stopped', 'InvalidSpec', 'Unknown'];
/** The phase `tend status` printed for each instance (its table: NAME ... PHASE ...). */
function phases(statusOut) {
  const rows = statusOut.split('\n').map((l) => l.trim().split(/\s+/));
  return Object.fromEntries(rows.map((w) => [w[0], w.find((x) => PHASES.includes(x))]));
}
/** instances/<name>/status.json, which tend reconcile writes. */
const statusFile = (name) => JSON.parse(readFileSync(join(root, 'instances', name, 'status.json'), 'utf8'));

async function makeApp() {
  step(1, 'A sample app with three tagged releases');
  const repo = join(root, 'app');
  mkdirSync(repo);
  const must = async (args) => {
    const r = await git(args);
    if (r.code !== 0) throw new Failure(`git ${args.join(' ')} failed: ${r.out.trim()}`);
  };
  await must(['init', '-q', '-b', 'main']);
  for (const [k, v] of [['user.name', 'tend demo'], ['user.email', 'demo@tend.invalid'], ['commit.gpgsign', 'false'], ['tag.gpgsign', 'false']]) await must(['config', k, v]);
  for (const f of ['server.js', 'build.sh']) copyFileSync(join(APP_FILES, f), join(repo, f));
  writeFileSync(join(repo, '.gitignore'), 'bin/\n');
  const changes = { 'v1.0.0': 'First release.', 'v1.1.0': 'A faster /version.', 'v2.0.0': 'A rewrite; /health answers 500 (the bug).' };
  for (const [version, change] of Object.entries(changes)) {
    if (version === 'v2.0.0') {
      const server = join(repo, 'server.js');
      writeFileSync(server, readFileSync(server, 'utf8').replace('const HEALTH_STATUS = 200;', 'const HEALTH_STATUS = 500; // the bug v2.0.0 ships'));
    }
    writeFileSync(join(repo, 'CHANGELOG.md'), `${version}: ${change}\n`, { flag: 'a' });
    await must(['add', '-A']);
    await must(['commit', '-q', '--no-verify', '-m', `${version}: ${change}`]);
    await must(['tag', '-a', '-m', version, version]);
  }
  note(`app/ is a git repository: a dependency-free Node HTTP server, built by ./build.sh.`);
  await git(['log', '--oneline', '--decorate', '--no-color'], { show: true, echo: 'git -C app log --oneline --decorate' });
}

async function writeRoot() {
  step(2, `A deployment root: tend.yaml and one desired file per instance (runtime ${runtime})`);
  const docker = runtime === 'docker';
  const tendYaml = [
    'apiVersion: tend/v1',
    `${`app: ${app}`.padEnd(31)}# units, containers and sessions are named ${app}-<instance>`,
    'source:',
    '  repo: ./app                  # releases are built from this repository\'s tags',
    `  build: ./build.sh${docker ? ` --image ${app}:latest` : ''}`,
    '  artifacts: [bin/app]',
    ...(docker ? [`  image: ${app}:latest`] : []),
    '  run:',
    '    artifact: bin/app',
    '    args: [--port, "${port}", --address, "${address}"]',
    'defaults:                      # merged under every desired file',
    `  runtime: ${runtime}`,
    '  health: {http: /health, timeout: 5s, interval: 250ms}',
    'systemd: {scope: user}',
    `tmux: {socket: ${app}}`,
    '',
  ].join('\n');
  writeFileSync(join(root, 'tend.yaml'), tendYaml);
  mkdirSync(join(root, 'desired'));
  for (const [name, inst] of Object.entries(instances)) {
    inst.port = await freePort();
    if (name === 'admin') continue; // made with tend create below
    writeFileSync(join(root, 'desired', `${name}.yaml`), `version: ${inst.version}\nport: ${inst.port}\n`);
  }
  note('tend.yaml:');
  say(tendYaml.replace(/^/gm, '  ').trimEnd());
  note('desired/web.yaml:');
  say(readFileSync(join(root, 'desired', 'web.yaml'), 'utf8').replace(/^/gm, '  ').trimEnd());
  check((await tend(['validate'])).code === 0, 'tend validate: every file is valid');
}

async function bringUp() {
  step(3, 'Bring them up');
  note('tend reconcile plans (tend reconcile --dry-run shows the same plan and stops there), builds each version');
  note('from its git tag into releases/<version>/, starts the instances and checks /health:');
  check((await tend(['reconcile'])).code === 0, 'tend reconcile converged (exit 0)');
  note('tend create writes a desired file (desired/admin.yaml) and reconciles that one instance:');
  const { version, port } = instances.admin;
  check((await tend(['create', 'admin', '--version', version, '--port', String(port)])).code === 0, 'tend create admin (exit 0)');
  const shown = phases((await tend(['status'])).out);
  for (const [name, { version, port }] of Object.entries(instances)) {
    const answer = await get(port, '/version');
    say(`  GET http://127.0.0.1:${port}/version → ${answer.status} ${answer.body}`);
    check(shown[name] === 'Ready' && answer.body === version, `${name} is Ready and answers ${version}`);
  }
}

async function bumpToBroken() {
  step(4, 'Bump api to v2.0.0, whose /health answers 500');
  note('tend update writes the version into desired/api.yaml (as a pipeline committing a bump would) and reconciles api:');
  const r = await tend(['update', 'api', '--version', 'v2.0.0']);
  check(r.code === 3, `exit 3: converged except a held instance (exit ${r.code})`);
  check(/rolled back to v1\.1\.0/i.test(r.out), 'api failed its health check and was rolled back to v1.1.0');
  const shown = phases((await tend(['status'])).out);
  check(shown.api === 'RolledBack', `tend status: api is RolledBack (${shown.api})`);
  check(shown.web === 'Ready' && shown.admin === 'Ready', 'web and admin were not touched (Ready)');
  await tend(['history', 'api']);
  const { port } = instances.api;
  const [version, health] = [await get(port, '/version'), await get(port, '/health')];
  say(`  GET http://127.0.0.1:${port}/version → ${version.status} ${version.body}, /health → ${health.status} ${health.body}`);
  check(version.body === 'v1.1.0' && health.status === 200, 'api serves v1.1.0 again and is healthy');
  note('v2.0.0 is held: tend does not try it again until desired/api.yaml changes (or tend retry api).');
  note('Put the desired file back in line with what runs:');
  check((await tend(['rollback', 'api', '--to', 'v1.1.0'])).code === 0, 'tend rollback api --to v1.1.0 (exit 0)');
  const after = statusFile('api');
  check(after.phase === 'Ready' && after.desiredVersion === 'v1.1.0' && !after.held, 'api is Ready on v1.1.0 (instances/api/status.json), as desired/api.yaml says');
}

/** Removes everything (tend first when things went well, then the runtime's own commands). */
async function cleanUp(gracefully) {
  cleaningUp = true;
  step(5, 'Clean up');
  let problems = 0;
  const problem = (s) => {
    problems++;
    say(`  ✘ ${s}`);
  };
  if (gracefully) {
    note('Deleting is explicit: a desired file removed plus --prune (an empty desired/ never deletes anything).');
    rmSync(join(root, 'desired', 'admin.yaml'));
    say(bold('$ rm desired/admin.yaml'));
    const r = await tend(['reconcile', '--prune']);
    if (r.code !== 0) problem(`tend reconcile --prune exited ${r.code}`);
    note('tend delete removes one instance: its unit/container/session, instances/<name>/ and desired/<name>.yaml:');
    for (const name of ['web', 'api']) {
      const d = await tend(['delete', name, '--force']);
      if (d.code !== 0) problem(`tend delete ${name} exited ${d.code}`);
    }
    if (runtime === 'docker') note('tend never removes images (a rollback needs no rebuild); the demo does:');
    if (runtime === 'tmux') note('tend keeps its tmux server running; the demo ends the one on its own socket:');
  } else {
    note(`Removing what the demo made with ${runtime}'s own commands:`);
  }
  const swept = await sweep(runtime, app, env);
  // After tend's own deletes only images (tend keeps them) and the tmux server on the demo's socket may remain.
  if (gracefully) for (const s of swept.filter((x) => !/^(image|tmux server|tmux socket) /.test(x))) problem(`tend left ${s} behind`);
  const left = await leftovers(runtime, app, env);
  for (const s of left) problem(`still there: ${s}`);
  const procs = strayProcesses();
  for (const p of procs) problem(`still running: PID ${p}`);
  rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  if (existsSync(root)) problem(`could not remove ${root}`);
  if (problems === 0) ok(`nothing of ${app} is left (${runtime}, processes, ${root} removed)`);
  return problems;
}

/** Processes (other than this one) whose command line names the temporary directory. */
function strayProcesses() {
  if (!existsSync('/proc/self/cmdline')) return [];
  const found = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(root)) found.push(`${pid} ${cmdline.replaceAll('\0', ' ').trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

// ------------------------------------------------------------------------------------ main --

async function main() {
  if (!existsSync(CLI)) {
    say(`tend demo: ${CLI} is missing: run npm ci (or npm run build) first`);
    return 1;
  }
  if ((await run('git', ['--version'], { show: false })).code !== 0) {
    say('tend demo: git is missing (it makes the sample app\'s repository): apt-get install git');
    return 1;
  }
  const forced = process.env.TEND_DEMO_RUNTIME || undefined;
  if (forced && !RUNTIMES.includes(forced)) {
    say(`tend demo: TEND_DEMO_RUNTIME must be one of ${RUNTIMES.join(', ')} (got '${forced}')`);
    return 1;
  }
  const picked = await pickRuntime(env, forced);
  if (!picked.runtime) {
    say(`tend demo: no runtime to run the instances on:\n${picked.missing.map((m) => `  - ${m}`).join('\n')}`);
    say('Start a systemd user manager (XDG_RUNTIME_DIR=/run/user/$(id -u)), install tmux (apt-get install tmux)');
    say('or start the Docker Engine, then run npm run demo again.');
    return 1;
  }
  if (interrupted) return 130;
  runtime = picked.runtime;
  root = mkdtempSync(join(tmpdir(), 'tend-demo-'));
  mkdirSync(join(root, 'tmp'));
  // tend's own temporary files (build clones) stay inside the demo's directory.
  tendEnv = { ...env, TMPDIR: join(root, 'tmp') };
  say(bold(`tend demo: app ${app} on ${runtime} (${picked.why})`));
  note(`Everything lives in ${root} and is removed at the end.`);
  note(`$ tend ARGS below runs: node ${CLI} -C ${root} ARGS`);

  let failure;
  try {
    await makeApp();
    await writeRoot();
    await bringUp();
    await bumpToBroken();
  } catch (e) {
    failure = e;
    say(`\n✘ ${e instanceof Failure ? e.message : e.stack}`);
  }
  const problems = await cleanUp(!failure && !interrupted);
  const secs = Math.round((Date.now() - started) / 1000);
  if (interrupted) {
    say(`\nDemo interrupted after ${secs} s; cleaned up${problems ? ` with ${problems} problem(s)` : ''}.`);
    return interrupted === 'SIGINT' ? 130 : 143;
  }
  if (failure || problems) {
    say(`\nDemo FAILED after ${secs} s (see ✘ above).`);
    return 1;
  }
  say(`\n${bold(`Demo finished in ${secs} s`)}: 3 instances on ${runtime}; api went to v2.0.0, failed /health, was rolled back to v1.1.0 by tend; nothing left behind.`);
  return 0;
}

main().then((code) => {
  process.exitCode = code;
}, (e) => {
  say(`tend demo: ${e.stack}`);
  process.exitCode = 1;
});
