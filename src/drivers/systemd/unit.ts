// systemd unit files: rendered from templates/systemd.service, and the X-Tend-* marks read back.
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InstanceSpec, TendConfig } from '../../model/types.js';
import { APP_DIRS } from '../../state/layout.js';
import { INSTANCE_LAYOUT } from '../compare-rules.js';
import { stamperArgv } from '../logstamp.js';
import type { LaunchSpec } from '../launch.js';

/** templates/ at the package root (three levels up from src/drivers/systemd and dist/drivers/systemd). */
export const TEMPLATE = fileURLToPath(new URL('../../../templates/systemd.service', import.meta.url));
/** The companion units of systemd.output: files (the output pipe and the stamper reading it). */
export const LOG_SOCKET_TEMPLATE = fileURLToPath(new URL('../../../templates/systemd-log.socket', import.meta.url));
export const LOG_SERVICE_TEMPLATE = fileURLToPath(new URL('../../../templates/systemd-log.service', import.meta.url));

/** `<unit>.log.socket` and `<unit>.log.service` (unit without `.service`): never an instance's name, which has no dot. */
export function logUnitsOf(unit: string): { socket: string; service: string } {
  const base = unit.replace(/\.service$/, '');
  return { socket: `${base}.log.socket`, service: `${base}.log.service` };
}

/** A companion unit (`*.log.service`, `*.log.socket`), not an instance's. */
export function isLogUnit(name: string): boolean {
  return /\.log\.(service|socket)$/.test(name);
}

/** The FIFO the unit's output goes to: tend's logs/ folder, read-only to the app. */
export function outputFifoOf(logFile: string): string {
  return join(dirname(logFile), '.output.fifo');
}

export type Scope = TendConfig['systemd']['scope'];

/** Where units of a scope live (TEND_SYSTEMD_UNIT_DIR overrides both, for tests and odd hosts). */
export function unitDirOf(scope: Scope, env: NodeJS.ProcessEnv = process.env): string {
  if (env.TEND_SYSTEMD_UNIT_DIR) return env.TEND_SYSTEMD_UNIT_DIR;
  if (scope === 'system') return '/etc/systemd/system';
  const config = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(config, 'systemd', 'user');
}

export function wantedByOf(scope: Scope): string {
  return scope === 'system' ? 'multi-user.target' : 'default.target';
}

/** A value systemd reads literally in a path setting: specifiers (%) escaped; no control characters. */
function plain(value: string, what: string): string {
  if ([...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw new Error(`${what} contains a control character; systemd unit files cannot hold it`);
  return value.replaceAll('%', '%%');
}

/** One double-quoted word for ExecStart=/Environment=/ReadWritePaths=: \ and " escaped, % doubled, $ doubled when expanded. */
export function quote(value: string, what: string, dollars = false): string {
  let v = plain(value, what).replaceAll('\\', '\\\\').replaceAll('"', '\\"');
  if (dollars) v = v.replaceAll('$', '$$$$');
  return `"${v}"`;
}

export interface UnitInput {
  config: TendConfig;
  spec: InstanceSpec;
  launch: LaunchSpec;
  specHash: string;
  /** The unit's own name, for the description. */
  unit: string;
}

/** The values each `{{name}}` of the template stands for; a list repeats its line, '' drops it. */
export function unitValues({ config, spec, launch, specHash, unit }: UnitInput): Record<string, string | string[]> {
  const sd = config.systemd;
  const system = sd.scope === 'system';
  const hardening = spec.systemd?.hardening !== false;
  // PrivateTmp= gives the service an empty /tmp and /var/tmp: a release or instance living there would vanish.
  const inTmp = [launch.argv[0]!, launch.cwd].some((p) => /^\/(var\/)?tmp(\/|$)/.test(p));
  const files = sd.output === 'files';
  const logUnits = logUnitsOf(unit);
  for (const k of Object.keys(launch.plainEnv)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`env name ${k} cannot go into a systemd unit`);
  }
  return {
    app: plain(config.app, 'app'),
    instance: plain(launch.instance, 'instance'),
    description: plain(`${config.app} ${launch.instance} (${launch.version}), managed by tend`, 'description'),
    version: plain(launch.version, 'version'),
    specHash,
    launchDigest: launch.digest,
    layout: String(INSTANCE_LAYOUT),
    after: system ? 'network-online.target' : '',
    // files: output into a pipe held by <unit>.log.socket, stamped into the log file by <unit>.log.service.
    logAfter: files ? `${logUnits.socket} ${logUnits.service}` : '',
    logRequires: files ? logUnits.socket : '',
    logWants: files ? logUnits.service : '',
    wants: system ? 'network-online.target' : '',
    execStart: launch.argv.map((a) => quote(a, 'a program argument', true)).join(' '),
    workingDirectory: plain(launch.cwd, 'the instance directory'),
    // Plain env only: the .env values (secrets) stay in their 0600 file, read through EnvironmentFile=.
    environment: Object.entries(launch.plainEnv)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => quote(`${k}=${v}`, `env ${k}`)),
    environmentFile: plain(launch.envFile, 'the .env path'),
    user: system && sd.user ? sd.user : '',
    group: system && sd.group ? sd.group : '',
    restartSec: sd.restartSec,
    stopTimeout: sd.stopTimeout,
    noNewPrivileges: hardening ? 'yes' : '',
    privateTmp: hardening && !inTmp ? 'yes' : '',
    protectSystem: hardening ? 'strict' : '',
    // The app writes only its own folders; the rest of the instance directory (.env, history, logs/) is tend's.
    readWritePaths: hardening ? APP_DIRS.map((d) => quote(join(launch.cwd, d), `the instance's ${d}/`)).join(' ') : '',
    standardOutput: files ? `file:${plain(outputFifoOf(launch.logFile), 'the output pipe')}` : '',
    standardError: files ? `file:${plain(outputFifoOf(launch.logFile), 'the output pipe')}` : '',
    wantedBy: wantedByOf(sd.scope),
  };
}

/** Fills a template: `{{name}}` per line; list values repeat the line, empty values drop it. */
export function fillTemplate(template: string, values: Record<string, string | string[]>): string {
  const out: string[] = [];
  for (const line of template.split('\n')) {
    const names = [...line.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]!);
    if (names.length === 0) {
      out.push(line);
      continue;
    }
    for (const n of names) if (!(n in values)) throw new Error(`template placeholder {{${n}}} has no value`);
    const list = names.find((n) => Array.isArray(values[n]));
    const rows = list ? (values[list] as string[]) : [undefined];
    for (const row of rows) {
      let empty = false;
      const filled = line.replace(/\{\{(\w+)\}\}/g, (_, n: string) => {
        const v = n === list ? row! : values[n];
        if (Array.isArray(v)) throw new Error(`template line uses two lists: ${line}`);
        if (v === '' || v === undefined) empty = true;
        return v ?? '';
      });
      if (!empty) out.push(filled);
    }
  }
  return out.join('\n');
}

export function renderUnit(input: UnitInput, template = readFileSync(TEMPLATE, 'utf8')): string {
  return fillTemplate(template, unitValues(input));
}

export interface LogUnitFile {
  name: string;
  text: string;
}

/**
 * The companion units of systemd.output: files: `<unit>.log.socket` holds the FIFO the unit writes to
 * (so no output is lost while the stamper restarts), `<unit>.log.service` runs tend's stamper on it,
 * appending stamped lines to the log file (it stops with the unit: PartOf=).
 */
export function renderLogUnits(input: Pick<UnitInput, 'config' | 'launch' | 'unit'>): { socket: LogUnitFile; service: LogUnitFile } {
  const names = logUnitsOf(input.unit);
  const values = {
    app: plain(input.config.app, 'app'),
    instance: plain(input.launch.instance, 'instance'),
    unit: input.unit,
    stampSocket: names.socket,
    stampService: names.service,
    fifo: plain(outputFifoOf(input.launch.logFile), 'the output pipe'),
    logFile: plain(input.launch.logFile, 'the log file'),
    execStart: stamperArgv(false).map((a) => quote(a, 'the stamper path', true)).join(' '),
  };
  return {
    socket: { name: names.socket, text: fillTemplate(readFileSync(LOG_SOCKET_TEMPLATE, 'utf8'), values) },
    service: { name: names.service, text: fillTemplate(readFileSync(LOG_SERVICE_TEMPLATE, 'utf8'), values) },
  };
}

export interface UnitMarks {
  app: string;
  instance: string;
  version: string;
  specHash: string;
  launch: string;
  layout: string;
}

/** The X-Tend-* keys of a unit file's text ('' for missing ones). */
export function readMarks(text: string): UnitMarks {
  const get = (key: string) => {
    const m = new RegExp(`^X-Tend-${key}=(.*)$`, 'm').exec(text);
    return m ? m[1]!.trim().replaceAll('%%', '%') : '';
  };
  return { app: get('App'), instance: get('Instance'), version: get('Version'), specHash: get('Spec-Hash'), launch: get('Launch'), layout: get('Layout') };
}

/** The login name whose user manager runs user units (for the linger check). */
export function currentUser(): string {
  return userInfo().username;
}
