// The agent's pino logger: JSON lines (readable on a TTY), a child per instance, secrets redacted by key and by value.
import { readdirSync } from 'node:fs';
import { readOwnFile } from '../fs/safe.js';
import { isatty } from 'node:tty';
import { join } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import type { Log } from '../shared/log.js';
import { parseEnvFile } from '../shared/env-parse.js';
import { isNotFound } from '../shared/errors.js';

export type { Logger } from 'pino';

export const REDACTED = '[redacted]';
/** Secret values shorter than this are not scrubbed (they would match nearly every line). */
export const MIN_SECRET_LENGTH = 4;

/** Keys whose value is secret by name: redacted at the top level and two levels down. */
const SECRET_KEYS = [
  'password', 'passwd', 'token', 'accessToken', 'refreshToken', 'secret', 'secrets', 'clientSecret',
  'apiKey', 'api_key', 'privateKey', 'authorization', 'Authorization', 'cookie', 'env',
];
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface AgentLoggerOptions {
  /** pino level (default `info`). */
  level?: string;
  /** Readable output instead of JSON lines; default: whether the destination is a TTY. */
  pretty?: boolean;
  /** A file descriptor (default 1), a file path (appended, folders made), or a stream. */
  destination?: number | string | NodeJS.WritableStream;
  /**
   * Known secret values (e.g. from readSecretValues). Called for each line that is written, so it should
   * return a cached list; values shorter than MIN_SECRET_LENGTH are ignored.
   */
  secrets?: () => Iterable<string>;
}

/** The values of every `instances/<name>/.env` (deduplicated); a missing folder or file gives nothing, an unreadable folder throws. */
export function readSecretValues(instancesDir: string): string[] {
  const out = new Set<string>();
  let names: string[];
  try {
    names = readdirSync(instancesDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (err) {
    // Unreadable is not "no secrets": the redacting logger keeps the last list it could read.
    if (isNotFound(err)) return [];
    throw err;
  }
  for (const name of names.sort()) {
    let text: string | undefined;
    try {
      text = readOwnFile(join(instancesDir, name, '.env'));
    } catch {
      // an unreadable or unsafe .env adds no values; the others still count
      continue;
    }
    if (text === undefined) continue;
    for (const v of parseEnvFile(text).values()) if (v.length >= MIN_SECRET_LENGTH) out.add(v);
  }
  return [...out];
}

/** The usable secrets, longest first, each with the form it takes inside a JSON string. */
function secretForms(secrets: Iterable<string>): { raw: string; escaped: string }[] {
  const seen = new Set<string>();
  for (const s of secrets) if (typeof s === 'string' && s.length >= MIN_SECRET_LENGTH) seen.add(s);
  return [...seen].sort((a, b) => b.length - a.length).map((raw) => ({ raw, escaped: JSON.stringify(raw).slice(1, -1) }));
}

/** Every string (and key, and number as text) holding a secret becomes `[redacted]`; `time` and `level` stay. */
function scrubValue(value: unknown, has: (s: string) => boolean): unknown {
  if (typeof value === 'string') return has(value) ? REDACTED : value;
  if (typeof value === 'number') return has(String(value)) ? REDACTED : value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, has));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[has(k) ? REDACTED : k] = scrubValue(v, has);
    return out;
  }
  return value;
}

/** One serialized pino line with every string that contains a secret value replaced. */
export function scrubLine(line: string, secrets: Iterable<string>): string {
  const forms = secretForms(secrets);
  if (!forms.some((f) => line.includes(f.raw) || line.includes(f.escaped))) return line;
  const has = (s: string) => forms.some((f) => s.includes(f.raw));
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    // not JSON: the line is written as it is
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    // Not a JSON object (should not happen with pino): cut the values out of the text itself.
    let text = line;
    for (const f of forms) text = text.split(f.raw).join(REDACTED).split(f.escaped).join(REDACTED);
    return text;
  }
  const { time, level, ...rest } = parsed as Record<string, unknown>;
  const kept: Record<string, unknown> = {};
  if (level !== undefined) kept.level = level;
  if (time !== undefined) kept.time = time;
  return `${JSON.stringify({ ...kept, ...(scrubValue(rest, has) as object) })}\n`;
}

function isTTYDestination(dest: AgentLoggerOptions['destination']): boolean {
  if (dest === undefined) return isatty(1);
  if (typeof dest === 'number') return isatty(dest);
  if (typeof dest === 'string') return false;
  return (dest as { isTTY?: boolean }).isTTY === true;
}

/**
 * Where the lines go. A destination that fails (its reader gone: EPIPE from `tend agent | head`; a
 * full disk) never stops the agent: the error is caught, rather than an uncaught 'error' event killing
 * the process in the middle of its work; once the reader is gone, lines are dropped.
 */
function openDestination(dest: AgentLoggerOptions['destination']): { write(s: string): unknown } {
  const target: NodeJS.WritableStream | ReturnType<typeof pino.destination> = dest === undefined || typeof dest === 'number'
    ? pino.destination({ fd: dest ?? 1, sync: true })
    : typeof dest === 'string' ? pino.destination({ dest, sync: true, append: true, mkdir: true }) : dest;
  let broken = false;
  target.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') broken = true;
  });
  return {
    write(s: string) {
      if (broken) return false;
      try {
        return target.write(s);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') broken = true;
        return false;
      }
    },
  };
}

/** The agent's logger. Lines are written synchronously, so nothing is lost when the agent exits. */
export function createAgentLogger(opts: AgentLoggerOptions = {}): Logger {
  const pretty = opts.pretty ?? isTTYDestination(opts.destination);
  const out = openDestination(opts.destination);
  const prettify = pretty
    ? pinoPretty.prettyFactory({
        colorize: isTTYDestination(opts.destination),
        ignore: 'pid,hostname,instance',
        messageFormat: '{if instance}[{instance}] {end}{msg}',
        translateTime: 'SYS:HH:MM:ss.l',
      })
    : undefined;
  const secrets = opts.secrets;
  let known: string[] = [];
  const current = (): string[] => {
    try {
      known = [...secrets!()];
    } catch {
      // keep the last list that could be read: a failing callback must neither stop logging nor unmask values
    }
    return known;
  };
  const stream: DestinationStream = {
    write(line: string) {
      const clean = secrets ? scrubLine(line, current()) : line;
      out.write(prettify ? prettify(clean) : clean);
    },
  };
  return pino(
    {
      level: opts.level ?? 'info',
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
}

/** A child logger whose lines carry `instance: name`. */
export function instanceLogger(logger: Logger, name: string): Logger {
  return logger.child({ instance: name });
}

/** The executor's Log callback, writing through pino (fields become the line's fields; debug lines when the logger's level lets them through). */
export function execLog(logger: Logger): Log {
  // A child logger's bindings (`instance`) are on every line already: a field of the same name would
  // be written a second time (`{"instance":"web",...,"instance":"web"}`).
  const bound = new Set(Object.keys(logger.bindings()));
  const log: Log = (level, message, fields) => {
    const own = fields ? Object.fromEntries(Object.entries(fields).filter(([k]) => !bound.has(k))) : {};
    logger[level](own, message);
  };
  log.debug = logger.isLevelEnabled('debug');
  return log;
}
