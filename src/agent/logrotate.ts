// Caps log files by size and count with copy-truncate, so a process holding a log open with O_APPEND keeps writing to it.
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readdirSync, readSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { LOG_FILE } from '../release/manifest.js';
import type { RootPaths } from '../spec/config.js';
import { AGENT_LOG } from './install.js';
import { errorMessage } from '../shared/errors.js';

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, M: 1024 ** 2, MB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3 };

/** Bytes for `100`, `512K`, `10MB`, `1G` (binary units, as logrotate counts); throws on anything else. */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*([KMG]?B?)$/i.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toUpperCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`"${text}" is not a size such as 100, 512K or 10MB`);
  return Number(m[1]) * unit;
}

export interface RotateOptions {
  /** Log files to check, or a function listing them (called once per rotateLogs call). */
  files: readonly string[] | (() => readonly string[]);
  /** Rotate a file larger than this (`10MB`, `512K`, `100`). */
  maxSize: string;
  /** Rotated copies kept per file: `<file>.1` (newest) … `<file>.<keep>`; 0 only truncates. */
  keep: number;
  /** When given, a file whose real folder lies outside all of these folders is skipped. */
  within?: readonly string[];
}

export interface RotateReport {
  /** Files looked at. */
  checked: number;
  /** Files copied to `.1` and truncated, with the size they had. */
  rotated: { file: string; size: number }[];
  /** Files left alone for a reason worth knowing (vanished, a symlink, outside the root, not a regular file). */
  skipped: { file: string; reason: string }[];
  /** Files that could not be rotated (permissions, disk full); the others are still rotated. */
  errors: { file: string; message: string }[];
}

function inside(dir: string, bases: readonly string[]): boolean {
  return bases.some((b) => dir === b || dir.startsWith(b.endsWith(sep) ? b : b + sep));
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    // gone or a dangling link: nothing to compare
    return undefined;
  }
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** `<file>.1` … `<file>.<keep>` after the shift; copies beyond `keep` (a lowered keep) are removed. */
function shiftCopies(file: string, keep: number): void {
  const base = basename(file);
  for (const entry of readdirSync(dirname(file))) {
    const m = entry.startsWith(`${base}.`) ? /^\d+$/.exec(entry.slice(base.length + 1)) : null;
    if (m && Number(m[0]) >= keep) unlinkIfPresent(join(dirname(file), entry));
  }
  for (let i = keep - 1; i >= 1; i--) {
    // rename moves the directory entry itself, so a planted symlink is moved, never written through
    try {
      renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * Copies `fd` from offset 0 into a new `dest`, following what the writer appends meanwhile up to EOF (at most
 * `limit` bytes, so a writer faster than the copy cannot keep it going forever); returns the bytes copied.
 */
function copyOut(fd: number, dest: string, mode: number, limit: number): number {
  unlinkIfPresent(dest);
  const out = openSync(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  let pos = 0;
  try {
    const buf = Buffer.allocUnsafe(1 << 16);
    while (pos < limit) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, limit - pos), pos);
      if (n === 0) break;
      writeSync(out, buf, 0, n);
      pos += n;
    }
  } finally {
    closeSync(out);
  }
  return pos;
}

type Outcome = { kind: 'rotated'; size: number } | { kind: 'skipped'; reason: string } | { kind: 'unchanged' };

function rotateOne(file: string, max: number, keep: number, within: readonly string[] | undefined): Outcome {
  if (within) {
    const dir = realOrUndefined(dirname(file));
    if (dir === undefined) return { kind: 'skipped', reason: 'vanished' };
    if (!inside(dir, within)) return { kind: 'skipped', reason: 'outside the deployment root' };
  }
  let fd: number;
  try {
    // O_NOFOLLOW: a symlinked log file is never opened, so rotation cannot reach outside the root through it
    fd = openSync(file, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'skipped', reason: 'vanished' };
    if (code === 'ELOOP') return { kind: 'skipped', reason: 'a symlink' };
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: 'skipped', reason: 'not a regular file' };
    if (st.size <= max) return { kind: 'unchanged' };
    shiftCopies(file, keep);
    const copied = keep > 0 ? copyOut(fd, `${file}.1`, st.mode & 0o777, 2 * st.size + (1 << 20)) : st.size;
    // Copy-truncate's inherent window: lines the writer appends after the copy above reached EOF and
    // before this truncate are lost (and a write in progress at that moment may leave a torn last line
    // in the copy). The window is short (no waiting in between); the writer itself never notices,
    // because with O_APPEND its next write lands at the new end (offset 0) of the same file.
    ftruncateSync(fd, 0);
    return { kind: 'rotated', size: copied };
  } finally {
    closeSync(fd);
  }
}

/**
 * Rotates every listed file larger than maxSize: `.1`→`.2` … (the oldest beyond `keep` removed), a copy
 * to `.1`, then the original truncated in place (same inode), so systemd `StandardOutput=append:`, `>>`
 * and tmux pipe-pane writers keep writing to it. A writer without O_APPEND would leave a sparse file.
 */
export function rotateLogs(opts: RotateOptions): RotateReport {
  const max = parseSize(opts.maxSize);
  if (!Number.isInteger(opts.keep) || opts.keep < 0) throw new Error(`keep must be a whole number ≥ 0, not ${opts.keep}`);
  const within = opts.within?.map((d) => realOrUndefined(d)).filter((d): d is string => d !== undefined);
  const files = typeof opts.files === 'function' ? opts.files() : opts.files;
  const report: RotateReport = { checked: 0, rotated: [], skipped: [], errors: [] };
  for (const file of files) {
    report.checked++;
    try {
      const r = rotateOne(file, max, opts.keep, within);
      if (r.kind === 'rotated') report.rotated.push({ file, size: r.size });
      else if (r.kind === 'skipped') report.skipped.push({ file, reason: r.reason });
    } catch (err) {
      report.errors.push({ file, message: errorMessage(err) });
    }
  }
  return report;
}

function isDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    // gone: not a folder to walk
    return false;
  }
}

function entries(dir: string) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    // gone or unreadable: nothing to rotate here this round
    return [];
  }
}

/**
 * `instances/<name>/logs/*.log`, `instances/.agent.log` (the installed agent's own output) and
 * `releases/<version>/build.log`, sorted; symlinks are not followed
 * and in-progress builds (`releases/.staging-*`) are left out.
 */
export function logFilesOf(paths: Pick<RootPaths, 'instances' | 'releases'>): string[] {
  const out: string[] = [];
  for (const inst of entries(paths.instances)) {
    if (!inst.isDirectory() || inst.name.startsWith('.')) continue;
    const logs = join(paths.instances, inst.name, 'logs');
    if (!isDir(logs)) continue;
    for (const f of entries(logs)) if (f.isFile() && f.name.endsWith('.log')) out.push(join(logs, f.name));
  }
  const agentLog = join(paths.instances, AGENT_LOG);
  try {
    if (lstatSync(agentLog).isFile()) out.push(agentLog);
  } catch {
    // the agent does not log there (not installed as a service)
  }
  for (const rel of entries(paths.releases)) {
    if (!rel.isDirectory() || rel.name.startsWith('.')) continue;
    const log = join(paths.releases, rel.name, LOG_FILE);
    try {
      if (lstatSync(log).isFile()) out.push(log);
    } catch {
      // no build.log in this release
    }
  }
  return out.sort();
}

/** The `within` folders for rotateLogs over logFilesOf(paths). */
export function logRoots(paths: Pick<RootPaths, 'instances' | 'releases'>): string[] {
  return [paths.instances, paths.releases];
}
