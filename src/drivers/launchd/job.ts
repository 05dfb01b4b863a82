// An instance's launchd job: its label, domain, plist path, the plist tend renders, and the marks read back.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TendConfig } from '../../model/types.js';
import type { RuntimeAction } from '../../model/plan.js';
import { canonicalJson, sha256 } from '../../shared/hash.js';
import type { LaunchSpec } from '../launch.js';
import { isDict, parsePlist, renderPlist, type PlistDict } from './plist.js';

/** Plist keys tend adds (launchd ignores keys it does not know). */
export const MARK = {
  app: 'TendApp',
  instance: 'TendInstance',
  version: 'TendVersion',
  hash: 'TendSpecHash',
  /** Digest of everything launchd runs the job with (not the marks): equal digests, same process. */
  launch: 'TendLaunch',
} as const;

export type Scope = 'system' | 'user';

export interface JobOptions {
  /** The plist folder; default TEND_LAUNCHD_DIR, else /Library/LaunchDaemons (system) or ~/Library/LaunchAgents (user). */
  plistDir?: string;
  /** Seconds launchd waits after SIGTERM before SIGKILL on stop (the plist's ExitTimeOut; default 30). */
  exitTimeoutSec: number;
  /** Seconds launchd waits before it restarts a job that failed (ThrottleInterval; default 10). */
  throttleSec: number;
  /** The uid whose `gui/<uid>` domain user-scope jobs live in (default: this process's). */
  uid?: number;
}

export function scopeOf(config: Pick<TendConfig, 'launchd'>): Scope {
  return config.launchd.scope ?? 'user';
}

export function uidOf(o: Pick<JobOptions, 'uid'>): number {
  return o.uid ?? process.getuid?.() ?? 0;
}

/** `system` or `gui/<uid>`: the domain bootstrap and bootout name. */
export function domainOf(config: Pick<TendConfig, 'launchd'>, o: Pick<JobOptions, 'uid'>): string {
  return scopeOf(config) === 'system' ? 'system' : `gui/${uidOf(o)}`;
}

export function plistDirOf(config: Pick<TendConfig, 'launchd'>, o: Pick<JobOptions, 'plistDir'>, env: NodeJS.ProcessEnv = process.env): string {
  if (o.plistDir) return o.plistDir;
  if (env.TEND_LAUNCHD_DIR) return env.TEND_LAUNCHD_DIR;
  return scopeOf(config) === 'system' ? '/Library/LaunchDaemons' : join(homedir(), 'Library', 'LaunchAgents');
}

/** The label prefix every job of this app shares: `<labelPrefix>.<app>-`. */
export function labelPrefixOf(config: Pick<TendConfig, 'app' | 'launchd'>): string {
  return `${config.launchd.labelPrefix}.${config.app}-`;
}

export function plistFileOf(dir: string, label: string): string {
  return join(dir, `${label}.plist`);
}

export interface RenderedJob {
  xml: string;
  /** MARK.launch of this plist. */
  launch: string;
}

/** The plist of one instance: the launch spec as launchd keys, then the tend marks. */
export function renderJob(label: string, launch: LaunchSpec, action: RuntimeAction, config: Pick<TendConfig, 'app'>, o: JobOptions): RenderedJob {
  const env = Object.fromEntries(Object.entries(launch.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const job: PlistDict = {
    Label: label,
    ProgramArguments: launch.argv,
    WorkingDirectory: launch.cwd,
    EnvironmentVariables: env,
    // Started when loaded (bootstrap, login, boot); restarted when it fails, not after a clean exit.
    RunAtLoad: true,
    KeepAlive: { SuccessfulExit: false },
    ThrottleInterval: o.throttleSec,
    ExitTimeOut: o.exitTimeoutSec,
    StandardOutPath: launch.logFile,
    StandardErrorPath: launch.logFile,
  };
  const digest = sha256(canonicalJson({ job, launch: launch.digest }));
  const xml = renderPlist({
    ...job,
    [MARK.app]: config.app,
    [MARK.instance]: launch.instance,
    [MARK.version]: launch.version,
    [MARK.hash]: action.specHash ?? '',
    [MARK.launch]: digest,
  });
  return { xml, launch: digest };
}

/** A plist found at a job's path, with tend's marks when it has them. */
export interface PlistFile {
  file: string;
  raw: string;
  /** The plist's Label; undefined when it has none or is not a readable XML plist. */
  label?: string;
  app?: string;
  instance?: string;
  version?: string;
  hash?: string;
  launch?: string;
}

const MAX_PLIST_BYTES = 1024 * 1024;

function str(d: PlistDict, key: string): string | undefined {
  const v = d[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Reads a plist file; undefined when it does not exist. Unreadable content gives a file without marks. */
export function readPlistFile(file: string): PlistFile | undefined {
  let raw: string;
  try {
    raw = readFileSync(file).subarray(0, MAX_PLIST_BYTES).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let dict: PlistDict | undefined;
  try {
    const v = parsePlist(raw);
    if (isDict(v)) dict = v;
  } catch {
    // Binary or malformed: tend did not write it, so it carries no marks.
  }
  const out: PlistFile = { file, raw };
  if (!dict) return out;
  const fields: [keyof PlistFile, string][] = [
    ['label', 'Label'], ['app', MARK.app], ['instance', MARK.instance], ['version', MARK.version], ['hash', MARK.hash], ['launch', MARK.launch],
  ];
  for (const [field, key] of fields) {
    const v = str(dict, key);
    if (v !== undefined) (out as unknown as Record<string, string>)[field] = v;
  }
  return out;
}

/** Tend made it for this app, under this label. */
export function isOwned(p: PlistFile, app: string, label: string): boolean {
  return p.app === app && p.instance !== undefined && p.label === label;
}
