#!/usr/bin/env node
// launchctl stand-in for hosts without launchd: records every call, replays captured output, and
// otherwise acts as a tiny launchd (see test/helpers/launchctl-standin.ts for how tests use it).
//
// State (env TEND_LAUNCHCTL_STATE, a folder):
//   calls.jsonl              one JSON array per call: launchctl's argv (the record tests compare)
//   replay.json              optional [{argv, stdout?, stderr?, code?}]: a call with exactly that argv
//                            prints the captured output and changes nothing
//   legacy                   when present: behave like launchctl before OS X 10.10 (load/unload/start/
//                            stop/list only; the newer subcommands are unknown)
//   jobs/<domain>/<label>/   a loaded job: job.json (what bootstrap read from the plist), pid (of the
//                            running program), exit (its wait status once it ended), group (pgid)
//   disabled/<domain>/<label> the job is disabled (enable/disable, load -w/unload -w)
// Env TEND_LAUNCHCTL_UID: the uid the caller counts as (default: the real one); `list`, `load`,
// `unload`, `start`, `stop` use the caller's domain: `system` for uid 0, `gui/<uid>` otherwise.
//
// A job runs as `sh -c <wrapper> ProgramArguments...` in a new session: the wrapper records the
// program's pid and, when it ends, its status. The program gets WorkingDirectory, launchd's default
// PATH (/usr/bin:/bin:/usr/sbin:/sbin) plus EnvironmentVariables, and stdout/stderr appended to
// StandardOutPath/StandardErrorPath. bootout sends SIGTERM, waits ExitTimeOut (default 20 s), then
// SIGKILLs the process group. Not emulated: KeepAlive restarts and ThrottleInterval, Mach services,
// sockets, calendar/watch-path triggers, UserName/GroupName, resource limits; `print` renders the
// fields tend and people read (state, pid, path, program, arguments, environment, last exit code).
import { spawn } from 'node:child_process';
import {
  appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync,
  unlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const STATE = process.env.TEND_LAUNCHCTL_STATE;
if (!STATE) {
  process.stderr.write('launchctl stand-in: TEND_LAUNCHCTL_STATE is not set\n');
  process.exit(64);
}
const argv = process.argv.slice(2);
appendFileSync(join(STATE, 'calls.jsonl'), `${JSON.stringify(argv)}\n`);

const uid = Number(process.env.TEND_LAUNCHCTL_UID ?? process.getuid());
const callerDomain = uid === 0 ? 'system' : `gui/${uid}`;
const legacy = existsSync(join(STATE, 'legacy'));

function finish(code, stdout = '', stderr = '') {
  if (stdout) process.stdout.write(stdout);
  if (stderr) process.stderr.write(stderr.endsWith('\n') ? stderr : `${stderr}\n`);
  process.exitCode = code;
}

// ---- XML plist reading (an independent reader: what launchd would accept) --------------------

function parsePlistXml(xml) {
  const tokens = [];
  const re = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<(\/?)(\w+)[^>]*?(\/?)>|([^<]+)/g;
  for (const m of xml.matchAll(re)) {
    if (m[4] !== undefined) tokens.push({ text: m[4] });
    else if (m[2] !== undefined) tokens.push({ tag: m[2], close: m[1] === '/', empty: m[3] === '/' });
  }
  let i = 0;
  const unescape = (s) => s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)))
      : { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e]);
  const tag = () => {
    while (tokens[i] && tokens[i].text !== undefined) {
      if (tokens[i].text.trim()) throw new Error('stray text');
      i++;
    }
    if (!tokens[i]) throw new Error('truncated');
    return tokens[i++];
  };
  const text = (name) => {
    let s = '';
    while (tokens[i] && tokens[i].text !== undefined) s += tokens[i++].text;
    const t = tokens[i++];
    if (!t || t.tag !== name || !t.close) throw new Error(`unclosed <${name}>`);
    return unescape(s);
  };
  const value = (t = tag()) => {
    if (t.empty) return { string: '', array: [], dict: {}, true: true, false: false }[t.tag];
    switch (t.tag) {
      case 'string': case 'date': case 'data': return text(t.tag);
      case 'integer': case 'real': return Number(text(t.tag));
      case 'true': case 'false': tag(); return t.tag === 'true';
      case 'array': { const a = []; for (let n = tag(); !n.close; n = tag()) a.push(value(n)); return a; }
      case 'dict': {
        const d = {};
        for (let n = tag(); !n.close; n = tag()) {
          if (n.tag !== 'key') throw new Error('expected <key>');
          d[text('key')] = value();
        }
        return d;
      }
      default: throw new Error(`unknown <${t.tag}>`);
    }
  };
  const root = tag();
  if (root.tag !== 'plist') throw new Error('no <plist>');
  return value();
}

// ---- jobs ---------------------------------------------------------------------------------------

const key = (domain) => domain.replace(/\//g, '_');
const jobDir = (domain, label) => join(STATE, 'jobs', key(domain), label);
const disabledFile = (domain, label) => join(STATE, 'disabled', key(domain), label);
const readText = (f) => { try { return readFileSync(f, 'utf8').trim(); } catch { return undefined; } };
const loadJob = (domain, label) => {
  const t = readText(join(jobDir(domain, label), 'job.json'));
  return t === undefined ? undefined : JSON.parse(t);
};
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };

/** pid while the program runs; lastExit: exit code, or -signal; runs: how often it was started. */
function jobState(domain, label) {
  const dir = jobDir(domain, label);
  const pid = Number(readText(join(dir, 'pid')));
  const exit = readText(join(dir, 'exit'));
  const running = pid > 0 && exit === undefined && alive(pid);
  const s = exit === undefined ? undefined : Number(exit);
  const lastExit = s === undefined ? undefined : s > 128 ? -(s - 128) : s;
  return { pid: running ? pid : undefined, lastExit, runs: Number(readText(join(dir, 'runs')) ?? 0) };
}

function jobsOf(domain) {
  const dir = join(STATE, 'jobs', key(domain));
  return existsSync(dir) ? readdirSync(dir).filter((l) => existsSync(join(dir, l, 'job.json'))).sort() : [];
}

const WRAPPER = 'pf=$1; ef=$2; shift 2; "$@" & p=$!; echo "$p" > "$pf.tmp"; mv -f "$pf.tmp" "$pf"; '
  + 'wait "$p"; s=$?; echo "$s" > "$ef.tmp"; mv -f "$ef.tmp" "$ef"';

async function run(domain, label) {
  const dir = jobDir(domain, label);
  const job = loadJob(domain, label);
  for (const f of ['pid', 'exit']) rmSync(join(dir, f), { force: true });
  writeFileSync(join(dir, 'runs'), String(jobState(domain, label).runs + 1));
  const fail = (status) => writeFileSync(join(dir, 'exit'), String(status));
  const cwd = job.WorkingDirectory ?? '/';
  if (!existsSync(cwd)) return fail(78);
  let out;
  let err;
  try {
    out = openSync(job.StandardOutPath ?? '/dev/null', 'a');
    err = openSync(job.StandardErrorPath ?? '/dev/null', 'a');
  } catch {
    return fail(78);
  }
  const env = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', XPC_SERVICE_NAME: label };
  if (domain.startsWith('gui/')) for (const k of ['HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR']) if (process.env[k]) env[k] = process.env[k];
  Object.assign(env, job.EnvironmentVariables ?? {});
  const child = spawn('/bin/sh', ['-c', WRAPPER, 'launchd', join(dir, 'pid'), join(dir, 'exit'), ...job.ProgramArguments], {
    cwd, env, detached: true, stdio: ['ignore', out, err],
  });
  child.on('error', () => fail(78));
  closeSync(out);
  closeSync(err);
  if (child.pid) writeFileSync(join(dir, 'group'), String(child.pid));
  child.unref();
  // launchd has spawned the job when bootstrap/kickstart return: wait for the wrapper's record.
  for (let t = 0; t < 150 && !existsSync(join(dir, 'pid')) && !existsSync(join(dir, 'exit')); t++) await sleep(20);
}

async function waitGone(domain, label, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) if (!jobState(domain, label).pid) return true;
  return !jobState(domain, label).pid;
}

/** SIGTERM, ExitTimeOut, then SIGKILL to the program and its process group. */
async function terminate(domain, label, graceful) {
  const { pid } = jobState(domain, label);
  if (!pid) return;
  const job = loadJob(domain, label);
  if (graceful) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    if (await waitGone(domain, label, (job.ExitTimeOut ?? 20) * 1000)) return;
  }
  const group = Number(readText(join(jobDir(domain, label), 'group')));
  for (const target of [pid, -group]) { try { process.kill(target, 'SIGKILL'); } catch { /* gone */ } }
  await waitGone(domain, label, 5000);
}

// ---- subcommands --------------------------------------------------------------------------------

const notFound = (domain, label) => finish(113, '', `Bad request.\nCould not find service "${label}" in domain for ${domain === 'system' ? 'system' : `user gui: ${domain.split('/')[1]}`}`);

/** `gui/501/label` -> [domain, label]; `system/label` -> ['system', label]. */
function splitTarget(t = '') {
  const m = /^(system|(?:gui|user)\/\d+)(?:\/(.+))?$/.exec(t);
  if (!m) throw new Usage(`bad domain target: ${t}`);
  return [m[1], m[2]];
}

class Usage extends Error {}

function mayModify(domain) {
  if (uid === 0 || domain === `gui/${uid}` || domain === `user/${uid}`) return true;
  return false;
}

async function bootstrap(domain, plist, verb = 'Bootstrap') {
  if (!mayModify(domain)) return finish(1, '', `${verb} failed: 1: Operation not permitted`);
  let st;
  try { st = statSync(plist); } catch { return finish(2, '', `${verb} failed: 2: No such file or directory`); }
  if ((st.mode & 0o022) !== 0) return finish(5, '', `${plist}: Path had bad ownership/permissions\n${verb} failed: 5: Input/output error`);
  let job;
  try { job = parsePlistXml(readFileSync(plist, 'utf8')); } catch { return finish(5, '', `${verb} failed: 5: Input/output error`); }
  const label = job.Label;
  if (typeof label !== 'string' || !Array.isArray(job.ProgramArguments)) return finish(5, '', `${verb} failed: 5: Input/output error`);
  if (loadJob(domain, label)) return finish(5, '', `${verb} failed: 5: Input/output error\nTry re-running the command as root for richer errors.`);
  if (existsSync(disabledFile(domain, label))) return finish(119, '', `${verb} failed: 119: Service is disabled`);
  mkdirSync(jobDir(domain, label), { recursive: true });
  const tmp = join(jobDir(domain, label), 'job.json.tmp');
  writeFileSync(tmp, JSON.stringify({ ...job, path: plist }));
  renameSync(tmp, join(jobDir(domain, label), 'job.json'));
  if (job.RunAtLoad === true || job.KeepAlive === true) await run(domain, label);
  return finish(0);
}

async function bootout(domain, label) {
  if (!mayModify(domain)) return finish(1, '', 'Boot-out failed: 1: Operation not permitted');
  if (!loadJob(domain, label)) return finish(113, '', 'Boot-out failed: 113: Could not find specified service');
  await terminate(domain, label, true);
  rmSync(jobDir(domain, label), { recursive: true, force: true });
  return finish(0);
}

function setDisabled(domain, label, disabled) {
  const f = disabledFile(domain, label);
  if (disabled) {
    mkdirSync(join(STATE, 'disabled', key(domain)), { recursive: true });
    writeFileSync(f, '');
  } else if (existsSync(f)) unlinkSync(f);
}

function renderList(domain) {
  // Jobs every Mac has, in the captured format, so parsers meet the noise they will meet.
  const lines = ['PID\tStatus\tLabel', '-\t0\tcom.apple.SafariHistoryServiceAgent', '-\t-9\tcom.apple.MRTa', '-\t78\tcom.apple.quicklook'];
  for (const label of jobsOf(domain)) {
    const s = jobState(domain, label);
    lines.push(`${s.pid ?? '-'}\t${s.lastExit ?? 0}\t${label}`);
  }
  return `${lines.join('\n')}\n`;
}

function renderPrint(domain, label) {
  const job = loadJob(domain, label);
  const s = jobState(domain, label);
  const env = { ...(job.EnvironmentVariables ?? {}), XPC_SERVICE_NAME: label };
  const block = (name, lines) => [`\t${name} = {`, ...lines.map((l) => `\t\t${l}`), '\t}'];
  const out = [
    `${domain}/${label} = {`,
    `\tactive count = ${s.pid ? 1 : 0}`,
    `\tpath = ${job.path}`,
    `\ttype = ${domain === 'system' ? 'LaunchDaemon' : 'LaunchAgent'}`,
    `\tstate = ${s.pid ? 'running' : 'not running'}`,
    '',
    `\tprogram = ${job.ProgramArguments[0]}`,
    ...block('arguments', job.ProgramArguments),
    '',
    ...(job.WorkingDirectory ? [`\tworking directory = ${job.WorkingDirectory}`, ''] : []),
    ...(job.StandardOutPath ? [`\tstdout path = ${job.StandardOutPath}`] : []),
    ...(job.StandardErrorPath ? [`\tstderr path = ${job.StandardErrorPath}`] : []),
    ...block('default environment', ['PATH => /usr/bin:/bin:/usr/sbin:/sbin']),
    '',
    ...block('environment', Object.entries(env).map(([k, v]) => `${k} => ${v}`)),
    '',
    `\tdomain = ${domain === 'system' ? 'system' : `${domain} [100002]`}`,
    `\tminimum runtime = ${job.ThrottleInterval ?? 10}`,
    `\texit timeout = ${job.ExitTimeOut ?? 20}`,
    `\truns = ${s.runs}`,
    ...(s.pid ? [`\tpid = ${s.pid}`, '\timmediate reason = speculative', '\tforks = 0', '\texecs = 1'] : []),
    ...(s.lastExit !== undefined && s.lastExit < 0 ? [`\tlast terminating signal = ${-s.lastExit}`] : []),
    `\tlast exit code = ${s.lastExit === undefined ? '(never exited)' : s.lastExit < 0 ? 0 : s.lastExit}`,
    '',
    ...block('resource coalition', ['ID = 1231', 'type = resource', 'state = active', `active count = ${s.pid ? 1 : 0}`, `name = ${label}`]),
    '',
    '\tspawn type = daemon (3)',
    '\tjetsam priority = 40',
    '',
    `\tproperties = ${job.RunAtLoad ? 'runatload | ' : ''}inferred program`,
    '}',
  ];
  return `${out.join('\n')}\n`;
}

const MODERN = new Set(['bootstrap', 'bootout', 'enable', 'disable', 'kickstart', 'print', 'print-disabled', 'kill', 'blame']);

async function main() {
  const replay = readText(join(STATE, 'replay.json'));
  if (replay) {
    const hit = JSON.parse(replay).find((r) => JSON.stringify(r.argv) === JSON.stringify(argv));
    if (hit) return finish(hit.code ?? 0, hit.stdout ?? '', hit.stderr ?? '');
  }
  const [cmd, ...rest] = argv;
  if (legacy && MODERN.has(cmd)) return finish(1, '', `launchctl: unknown subcommand "${cmd}"`);
  switch (cmd) {
    case 'list':
      if (rest.length > 0) return loadJob(callerDomain, rest[0]) ? finish(0, `{\n\t"Label" = "${rest[0]}";\n};\n`) : notFound(callerDomain, rest[0]);
      return finish(0, renderList(callerDomain));
    case 'print': {
      const [domain, label] = splitTarget(rest[0]);
      if (!label) throw new Usage('print of a whole domain is not emulated');
      return loadJob(domain, label) ? finish(0, renderPrint(domain, label)) : notFound(domain, label);
    }
    case 'bootstrap': {
      const [domain, label] = splitTarget(rest[0]);
      if (label || rest.length < 2) throw new Usage('Usage: launchctl bootstrap <domain-target> [service-path, service-path2, ...]');
      for (const p of rest.slice(1)) {
        await bootstrap(domain, p);
        if (process.exitCode) return;
      }
      return;
    }
    case 'bootout': {
      const [domain, label] = splitTarget(rest[0]);
      if (label) return bootout(domain, label);
      if (!rest[1]) throw new Usage('Usage: launchctl bootout <domain-target> [service-path1, service-path2, ...] | <service-target>');
      return bootout(domain, parsePlistXml(readFileSync(rest[1], 'utf8')).Label);
    }
    case 'enable':
    case 'disable': {
      const [domain, label] = splitTarget(rest[0]);
      if (!label) throw new Usage(`Usage: launchctl ${cmd} <service-target>`);
      if (!mayModify(domain)) return finish(1, '', `Could not ${cmd} service: 1: Operation not permitted`);
      setDisabled(domain, label, cmd === 'disable');
      return finish(0);
    }
    case 'kickstart': {
      const flags = rest.filter((a) => a.startsWith('-'));
      const [domain, label] = splitTarget(rest.find((a) => !a.startsWith('-')));
      if (!loadJob(domain, label)) return notFound(domain, label);
      if (jobState(domain, label).pid) {
        if (!flags.includes('-k')) return finish(0);
        await terminate(domain, label, false);
      }
      await run(domain, label);
      return finish(0, flags.includes('-p') ? `service spawned with pid: ${jobState(domain, label).pid ?? 0}\n` : '');
    }
    case 'load':
    case 'unload': {
      const write = rest.includes('-w');
      for (const p of rest.filter((a) => !a.startsWith('-'))) {
        const label = parsePlistXml(readFileSync(p, 'utf8')).Label;
        if (write) setDisabled(callerDomain, label, cmd === 'unload');
        if (cmd === 'load') {
          if (loadJob(callerDomain, label)) { finish(0, '', `${p}: service already loaded`); continue; }
          if (existsSync(disabledFile(callerDomain, label))) { finish(0, '', `${p}: Service is disabled`); continue; }
          await bootstrap(callerDomain, p, 'Load');
        } else if (loadJob(callerDomain, label)) {
          await bootout(callerDomain, label);
        } else {
          finish(0, '', `Could not find specified service`);
        }
        if (process.exitCode) return;
      }
      return finish(process.exitCode ?? 0);
    }
    case 'start':
    case 'stop': {
      const label = rest[0];
      if (!loadJob(callerDomain, label)) return finish(3, '', `${cmd === 'start' ? 'Start' : 'Stop'} failed: 3: No such process`);
      if (cmd === 'stop') await terminate(callerDomain, label, true);
      else if (!jobState(callerDomain, label).pid) await run(callerDomain, label);
      return finish(0);
    }
    default:
      return finish(1, '', `Unrecognized subcommand: ${cmd ?? ''}`);
  }
}

main().catch((e) => finish(e instanceof Usage ? 64 : 1, '', e instanceof Usage ? e.message : `launchctl stand-in: ${e.stack ?? e}`));
