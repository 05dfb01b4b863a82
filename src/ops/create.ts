// `tend create`: a new desired/<name>.yaml (version, port, runtime, env; secret names only), its secrets
// in instances/<name>/.env (0600), then a reconcile of that instance. On any failure — a bad tag, a
// taken port, a failed build or first start, an abort — everything it made is removed again.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Log } from '../shared/log.js';
import type { Runtime, RuntimeChoice, TendConfig } from '../model/types.js';
import { RUNTIMES } from '../model/types.js';
import { createFileExclusive, writeFileAtomic } from '../fs/atomic.js';
import { readOwnFile } from '../fs/safe.js';
import { observeRuntimes } from '../observe/index.js';
import { resolveVersions } from '../release/tags.js';
import { RUNTIME_NOUN } from '../spec/names.js';
import { validators } from '../spec/schemas.js';
import { withInstanceLock } from '../state/lock.js';
import { formatDiagnostic } from '../shared/diagnostic-text.js';
import { reconcile, type ReconcileResult } from '../executor/reconcile.js';
import { readStatus, statusPath } from '../state/status.js';
import type { StatusFile } from '../model/types.js';
import { inGitRepo } from './desired-edit.js';
import { reloadDesired, type Project } from './edit.js';
import { editEnvFile, envKeyProblem, formatEnvLine } from './env-file.js';
import { desiredEditRefusal, OpsError } from './guard.js';
import { declaredPorts, firstFreePort, portProblem } from './ports.js';
import { assertInstanceName, desiredFileOf, displayPath, instanceDirOf } from './project.js';
import { removeFromRuntimes } from './remove.js';
import { desiredSchemaLine } from './schema-ref.js';
import { errorMessage } from '../shared/errors.js';

export interface CreateOptions {
  name: string;
  /** A git tag, or `latest` (kept as written); default: the latest tag, written as that tag. */
  version?: string;
  /** Default: the first port from 8081 no desired file declares and nothing on the host listens on. */
  port?: number;
  /** Default: tend.yaml `defaults.runtime`, else `auto` (the key is left out of the file). */
  runtime?: RuntimeChoice;
  /** Plain environment for the desired file's `env:` (never secrets). */
  env?: Readonly<Record<string, string>>;
  /** Secret values for instances/<name>/.env; names beyond `source.secrets` go into the file's `secrets:`. */
  secrets?: Readonly<Record<string, string>>;
  /** Asked for each required secret that `secrets` lacks (the CLI: a hidden prompt); without it they are an error. */
  askSecret?: (key: string) => Promise<string>;
  /** Reconcile the instance (default true); false only writes the files. */
  apply?: boolean;
  /** Edit although agent.git.pull is on (`--local`). */
  local?: boolean;
  signal?: AbortSignal;
  log?: Log;
  updatedBy?: string;
}

export interface CreateResult {
  name: string;
  /** The desired file, relative to the root. */
  file: string;
  /** The tag the version resolved to. */
  version: string;
  port: number;
  address: string;
  /** `http://localhost:<port>`. */
  url: string;
  /** The runtime `runtime: auto` or the defaults resolved to. */
  runtime: Runtime;
  /** Secret names written to instances/<name>/.env (never their values). */
  secrets: string[];
  /** The desired file lies in a git work tree (commit it). */
  inGit: boolean;
  /** Set when the instance was reconciled (it is then running and healthy). */
  reconcile?: ReconcileResult;
}

const RUNTIME_CHOICES: readonly string[] = [...RUNTIMES, 'auto'];

function urlOf(address: string, port: number): string {
  const local = ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost'].includes(address);
  const host = local ? 'localhost' : address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}`;
}


function readOptional(file: string): string | undefined {
  try {
    return readOwnFile(file);
  } catch {
    // absent or refused (a link): treated as no earlier file; writing it refuses a link anyway
    return undefined;
  }
}

/** Why the create did not end Ready, from the outcome, the plan and status.json. */
function failureOf(result: ReconcileResult, summary: StatusFile | undefined, name: string): string {
  const outcome = result.outcomes.find((o) => o.name === name);
  const planned = result.plans[0]?.instances.find((i) => i.name === name);
  const diagnostics = result.plans[0]?.diagnostics.filter((d) => d.severity === 'error' && d.instance === name) ?? [];
  if (planned && (planned.change === 'blocked' || planned.change === 'invalid')) {
    return diagnostics.length > 0 ? diagnostics.map((d) => d.message).join('; ') : planned.reason;
  }
  if (outcome?.result === 'failed' && outcome.reason) return outcome.reason;
  if (summary?.message) return summary.message;
  if (outcome?.reason) return outcome.reason;
  return `phase ${summary?.phase ?? 'unknown'}`;
}

/**
 * Creates an instance: validates the name and options, resolves the version (`Git tag v9.9.9 not
 * found`), picks or checks the port (`Port 8081 already in use`), collects the required secrets,
 * writes `desired/<name>.yaml` (with a schema line) and `instances/<name>/.env` (0600), and reconciles
 * the instance until it is healthy. On any failure, abort included, it removes the desired file,
 * the instance directory and whatever the reconcile created, then throws.
 * @throws OpsError: `invalid` (name, options, secrets missing), `not-found` (tag), `refused` (exists,
 * port taken, agent.git.pull), `failed` (build, start, health), `aborted` (signal).
 */
export async function createInstance(project: Project, opts: CreateOptions): Promise<CreateResult> {
  const { name } = opts;
  const { paths } = project;
  const config = project.desired.config;
  const { file, secretNames } = checkRequest(project, opts);
  const before = instanceDirBefore(project, name);
  const tag = await resolveTag(config, paths.root, opts.version ?? 'latest');
  const address = config.defaults.address ?? '127.0.0.1';
  const port = await choosePort(project, opts.port, address);
  const values = await collectSecrets(opts, secretNames, before.env);
  await refuseLeftovers(project, name);
  const extraSecrets = Object.keys(opts.secrets ?? {}).filter((k) => !secretNames.has(k)).sort();
  const text = desiredText(project, before.envFile, {
    version: opts.version ?? tag,
    ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
    port,
    ...(opts.env && Object.keys(opts.env).length > 0 ? { env: { ...opts.env } } : {}),
    ...(extraSecrets.length > 0 ? { secrets: extraSecrets } : {}),
  });
  return withInstanceLock(paths, name, () => writeAndReconcile(project, opts, { file, text, values, tag, port, before }),
    { ...(opts.signal ? { signal: opts.signal } : {}), purpose: `tend create ${name}` });
}

/** The request alone: a valid name, no refusal, no file of that name yet, a known runtime, a port in range, env keys that are not secrets. */
function checkRequest(project: Project, opts: CreateOptions): { file: string; secretNames: Set<string> } {
  const { name } = opts;
  const config = project.desired.config;
  assertInstanceName(name);
  const refusal = desiredEditRefusal(config, opts.local, `create ${name}`);
  if (refusal) throw new OpsError(refusal, 'refused');
  const file = desiredFileOf(project, name);
  for (const f of [file, join(project.paths.desired, `${name}.yml`)]) {
    if (existsSync(f)) throw new OpsError(`${displayPath(project, f)} exists: instance ${name} is already declared`, 'refused');
  }
  if (opts.runtime !== undefined && !RUNTIME_CHOICES.includes(opts.runtime)) {
    throw new OpsError(`unknown runtime "${opts.runtime}" (one of ${RUNTIME_CHOICES.join(', ')})`, 'invalid');
  }
  if (opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port >= 1 && opts.port <= 65535)) {
    throw new OpsError(`port must be a whole number from 1 to 65535, not ${opts.port}`, 'invalid');
  }
  const secretNames = new Set([...config.source.secrets, ...(config.defaults.secrets ?? [])]);
  for (const key of [...Object.keys(opts.env ?? {}), ...Object.keys(opts.secrets ?? {})]) {
    const problem = envKeyProblem(key);
    if (problem) throw new OpsError(problem, 'invalid');
  }
  for (const key of Object.keys(opts.env ?? {})) {
    if (secretNames.has(key) || key in (opts.secrets ?? {})) throw new OpsError(`${key} is a secret: give it with --secret, never in env`, 'invalid');
  }
  return { file, secretNames };
}

/** What the instance directory holds before the create (only a .env set in advance is allowed), so a failed create puts it back. */
interface DirBefore {
  dir: string;
  envFile: string;
  files?: string[];
  env?: string;
}

function instanceDirBefore(project: Project, name: string): DirBefore {
  const dir = instanceDirOf(project, name);
  const envFile = join(dir, '.env');
  const files = existsSync(dir) ? readdirSync(dir) : undefined;
  if (files && files.some((f) => f !== '.env')) {
    throw new OpsError(`${displayPath(project, dir)}/ exists (left by an instance of that name?): remove it, or tend delete ${name}, first`, 'refused');
  }
  const env = files ? readOptional(envFile) : undefined;
  return { dir, envFile, ...(files ? { files } : {}), ...(env !== undefined ? { env } : {}) };
}

async function resolveTag(config: TendConfig, root: string, wanted: string): Promise<string> {
  const resolution = (await resolveVersions(config.source.repo, root, [wanted], config.source.prereleases))[wanted]!;
  if (resolution.status === 'not-found') throw new OpsError(resolution.reason, 'not-found');
  if (resolution.status === 'unresolved') throw new OpsError(`cannot read the tags of ${config.source.repo}: ${resolution.reason}`, 'failed');
  return resolution.tag;
}

/** The port asked for (free and not declared by another file), or the first free one. */
async function choosePort(project: Project, asked: number | undefined, address: string): Promise<number> {
  const declared = declaredPorts(reloadDesired(project), project.paths.root);
  if (asked === undefined) return firstFreePort(declared, address);
  const problem = await portProblem(asked, address, declared);
  if (problem) throw new OpsError(problem, 'refused');
  return asked;
}

/** The secret values to write: given ones, and the required ones the .env lacks (asked for, or an error). */
async function collectSecrets(opts: CreateOptions, secretNames: Set<string>, envBefore: string | undefined): Promise<Record<string, string>> {
  const values: Record<string, string> = { ...opts.secrets };
  const have = new Set(envBefore === undefined ? [] : [...envBefore.matchAll(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/gm)].map((m) => m[1]!));
  const missing = [...secretNames].filter((k) => !(k in values) && !have.has(k)).sort();
  if (missing.length > 0 && !opts.askSecret) {
    throw new OpsError(`secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} required (tend.yaml source.secrets) but not given: pass --secret KEY (read from a terminal or stdin) or --secret KEY=VALUE`, 'invalid');
  }
  for (const key of missing) values[key] = await opts.askSecret!(key);
  for (const [key, value] of Object.entries(values)) {
    try {
      formatEnvLine(key, value);
    } catch (err) {
      throw new OpsError(errorMessage(err), 'invalid', [], err);
    }
  }
  return values;
}

/** Something of that name tend still owns without a desired file: a delete must come first. */
async function refuseLeftovers(project: Project, name: string): Promise<void> {
  const leftovers = Object.values((await observeRuntimes({ config: project.desired.config, paths: project.paths })).runtimes)
    .flatMap((r) => r?.items ?? []).filter((i) => i.owned && i.instance === name);
  if (leftovers.length > 0) {
    const what = leftovers.map((i) => `${RUNTIME_NOUN[i.runtime]} ${i.id}`).join(', ');
    throw new OpsError(`tend still owns ${what} of an instance ${name} without a desired file: tend delete ${name} first`, 'refused');
  }
}

/** desired/<name>.yaml's text: the schema line, where the secrets are, the body (checked against the schema). */
function desiredText(project: Project, envFile: string, body: Record<string, unknown>): string {
  const validate = validators().instance;
  if (!validate(body)) throw new OpsError(`the desired file would not validate: ${validate.errors?.[0]?.instancePath} ${validate.errors?.[0]?.message}`, 'invalid');
  return [
    desiredSchemaLine(project.paths.desired, project.paths.root),
    `# Created by tend create on ${new Date().toISOString().slice(0, 10)}. Secret values live in ${displayPath(project, envFile)} (0600), never here.`,
    stringify(body),
  ].join('\n');
}

interface Prepared {
  file: string;
  text: string;
  values: Record<string, string>;
  tag: string;
  port: number;
  before: DirBefore;
}

/** Under the instance lock: writes the files and reconciles the instance until Ready; on any failure, undoes it all. */
async function writeAndReconcile(project: Project, opts: CreateOptions, p: Prepared): Promise<CreateResult> {
  const { name, signal } = opts;
  const { paths } = project;
  const rel = displayPath(project, p.file);
  mkdirSync(paths.desired, { recursive: true });
  if (!createFileExclusive(p.file, p.text)) throw new OpsError(`${rel} exists: instance ${name} is already declared`, 'refused');
  let runtime: Runtime | undefined;
  try {
    if (Object.keys(p.values).length > 0) editEnvFile(p.before.envFile, p.values);
    const entry = reloadDesired(project).entries.find((e) => e.name === name);
    if (entry?.status !== 'valid') {
      const diagnostics = entry?.status === 'invalid' ? entry.diagnostics : [];
      throw new OpsError(`${rel} does not validate:\n${diagnostics.map(formatDiagnostic).join('\n')}`, 'invalid', diagnostics);
    }
    runtime = entry.runtime;
    const result: CreateResult = {
      name, file: rel, version: p.tag, port: p.port, address: entry.spec.address, url: urlOf(entry.spec.address, p.port), runtime,
      secrets: Object.keys(p.values).sort(), inGit: inGitRepo(paths.desired),
    };
    if (opts.apply === false) return result;
    const reconciled = await reconcile(reloadDesired(project), paths, {
      only: new Set([name]), historyReason: { [name]: 'create' },
      ...(signal ? { signal } : {}), ...(opts.log ? { log: opts.log } : {}), ...(opts.updatedBy ? { updatedBy: opts.updatedBy } : {}),
    });
    const summary = readStatus(statusPath(paths.instances, name)).status;
    if (reconciled.exitCode !== 0 || summary?.phase !== 'Ready') {
      throw new OpsError(`${name} did not start: ${failureOf(reconciled, summary, name)}`, 'failed');
    }
    return { ...result, reconcile: reconciled };
  } catch (err) {
    const left = await undoCreate(project, opts, p, runtime);
    const tail = left.length > 0 ? `; NOT cleaned up: ${left.join('; ')}` : '; nothing was left behind';
    if (signal?.aborted) throw new OpsError(`interrupted: ${name} was not created${tail}`, 'aborted');
    if (err instanceof OpsError) throw new OpsError(`${err.message}${tail}`, err.code, err.diagnostics, err);
    throw new OpsError(`${name} was not created: ${errorMessage(err)}${tail}`, 'failed');
  }
}

/** Removes what a create made (desired file, what runs, the instance directory or what it added to it); returns what could not be removed. */
async function undoCreate(project: Project, opts: CreateOptions, p: Prepared, runtime: Runtime | undefined): Promise<string[]> {
  const left: string[] = [];
  const { dir, envFile, files, env } = p.before;
  rmSync(p.file, { force: true });
  try {
    await removeFromRuntimes(project, opts.name, {
      ...(runtime ? { runtimes: [runtime] } : {}), ...(opts.log ? { log: opts.log } : {}), ...(opts.updatedBy ? { updatedBy: opts.updatedBy } : {}),
    });
  } catch (err) {
    left.push(errorMessage(err));
  }
  if (files === undefined) {
    rmSync(dir, { recursive: true, force: true });
  } else {
    for (const f of readdirSync(dir)) if (f !== '.env') rmSync(join(dir, f), { recursive: true, force: true });
    if (env === undefined) rmSync(envFile, { force: true });
    else if (readOptional(envFile) !== env) writeFileAtomic(envFile, env, 0o600);
  }
  return left;
}
