// Why a process exited during its health check, in its own words: the output it wrote since its chain
// began (the log file from the size it had then, the journal or the container's log since then), and
// of that the last line that reads like an error. The log file is the instance's to write, so it is
// opened without following a symlink and read only when it is a regular file; secrets are masked.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Runtime, TendConfig } from '../model/types.js';
import { connect, redact } from '../drivers/docker/engine.js';
import { logFileOf, readEnvFile } from '../drivers/launch.js';
import { STAMP } from '../drivers/logstamp.js';
import type { DriverPaths } from '../drivers/types.js';
import { targetName } from '../spec/names.js';

/** Where an instance's output stood before its chain: the time and the size of its log file. */
export interface OutputMark {
  at: number;
  size: number;
}

const MAX_READ = 16 * 1024;
const LINES = 20;
const ERRORISH = /\b(E[A-Z]{3,}|error|errno|fatal|panic|exception|cannot|can't|could not|failed|denied|refused|not found|no such|invalid|unable)\b/i;

export function markOutput(paths: DriverPaths, name: string): OutputMark {
  let size = 0;
  try {
    const st = lstatSync(logFileOf({ paths }, name));
    if (st.isFile()) size = st.size;
  } catch { /* no log yet */ }
  return { at: Date.now(), size };
}

/** Up to MAX_READ bytes of the log file written after `from` (all of it when it shrank: rotated meanwhile). */
function fileOutput(file: string, from: number): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    // no log file (or a link): no cause to quote
    return '';
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return '';
    const start = Math.max(st.size < from ? 0 : from, st.size - MAX_READ);
    const buf = Buffer.alloc(st.size - start);
    const n = buf.length > 0 ? readSync(fd, buf, 0, buf.length, start) : 0;
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** A whole Engine log buffer: 8-byte frame headers unless the container has a TTY. */
function demux(buf: Buffer): string {
  if (buf.length < 8 || buf[0]! > 2 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) return buf.toString('utf8');
  let out = '';
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}

async function output(runtime: Runtime, config: TendConfig, paths: DriverPaths, name: string, mark: OutputMark): Promise<string> {
  const since = Math.floor(mark.at / 1000);
  if (runtime === 'docker') {
    const c = (await connect()).getContainer(targetName('docker', config, name));
    return demux(await c.logs({ stdout: true, stderr: true, follow: false, since, tail: LINES }) as unknown as Buffer);
  }
  if (runtime === 'systemd' && config.systemd.output === 'journal') {
    const unit = targetName('systemd', config, name);
    const scope = config.systemd.scope === 'user' ? ['--user'] : [];
    const r = await execa('journalctl', [...scope, '-u', unit, '--since', `@${since}`, '-n', String(LINES), '-o', 'cat', '--no-pager'], {
      reject: false, stdin: 'ignore', timeout: 5000,
    });
    return r.exitCode === 0 ? String(r.stdout) : '';
  }
  return fileOutput(logFileOf({ paths }, name), mark.size);
}

/** The line that best says why: the last error-like one of the last lines, else the last line (tend's time stamp left out). */
export function causeLine(text: string): string | undefined {
  const lines = text.split('\n')
    // eslint-disable-next-line no-control-regex
    .map((l) => l.replace(STAMP, '').replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g, '').trim())
    .filter((l) => l !== '')
    .slice(-LINES);
  const line = [...lines].reverse().find((l) => ERRORISH.test(l)) ?? lines.at(-1);
  return line === undefined ? undefined : line.length > 240 ? `${line.slice(0, 237)}...` : line;
}

/** The cause of an exit from the instance's output since `mark`, secrets masked; undefined when it wrote nothing. */
export async function exitCause(runtime: Runtime, config: TendConfig, paths: DriverPaths, name: string, mark: OutputMark): Promise<string | undefined> {
  try {
    const line = causeLine(await output(runtime, config, paths, name, mark));
    if (line === undefined) return undefined;
    const secrets = [...readEnvFile(join(paths.instances, name, '.env')).values()];
    return redact(line, secrets);
  } catch {
    // best effort: the exit cause only adds to a message
    return undefined;
  }
}
