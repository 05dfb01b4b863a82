// `tend create`: a new desired/<name>.yaml (version, port, runtime, env; secret names only), its secrets
// in instances/<name>/.env (0600), then a reconcile of that instance. On any failure — a bad tag, a
// taken port, a failed build or first start, an abort — everything it made is removed again.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Log } from '../shared/log.js';
import type { Runtime, RuntimeChoice } from '../model/types.js';
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
  const { name, signal } = opts;
  const { paths } = project;
  const { root } = paths;
  const config = project.desired.config;
  assertInstanceName(name);
  const refusal = desiredEditRefusal(config, opts.local, `create ${name}`);
  if (refusal) throw new OpsError(refusal, 'refused');
  const file = desiredFileOf(project, name);
  const rel = displayPath(project, file);
  for (const f of [file, join(paths.desired, `${name}.yml`)]) {
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
  const dir = instanceDirOf(project, name);
  const envFile = join(dir, '.env');
  const dirBefore = existsSync(dir) ? readdirSync(dir) : undefined;
  if (dirBefore && dirBefore.some((f) => f !== '.env')) {
    throw new OpsError(`${displayPath(project, dir)}/ exists (left by an instance of that name?): remove it, or tend delete ${name}, first`, 'refused');
  }
  const envBefore = dirBefore ? readOptional(envFile) : undefined;

  const wanted = opts.version ?? 'latest';
  const resolution = (await resolveVersions(config.source.repo, root, [wanted], config.source.prereleases))[wanted]!;
  if (resolution.status === 'not-found') throw new OpsError(resolution.reason, 'not-found');
  if (resolution.status === 'unresolved') throw new OpsError(`cannot read the tags of ${config.source.repo}: ${resolution.reason}`, 'failed');
  const tag = resolution.tag;

  const address = config.defaults.address ?? '127.0.0.1';
  const declared = declaredPorts(reloadDesired(project), root);
  let port: number;
  if (opts.port !== undefined) {
    const problem = await portProblem(opts.port, address, declared);
    if (problem) throw new OpsError(problem, 'refused');
    port = opts.port;
  } else {
    port = await firstFreePort(declared, address);
  }

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
  const extraSecrets = Object.keys(opts.secrets ?? {}).filter((k) => !secretNames.has(k)).sort();

  const leftovers = Object.values((await observeRuntimes({ config, paths })).runtimes)
    .flatMap((r) => r?.items ?? []).filter((i) => i.owned && i.instance === name);
  if (leftovers.length > 0) {
    const what = leftovers.map((i) => `${RUNTIME_NOUN[i.runtime]} ${i.id}`).join(', ');
    throw new OpsError(`tend still owns ${what} of an instance ${name} without a desired file: tend delete ${name} first`, 'refused');
  }

  const body = {
    version: opts.version ?? tag,
    ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
    port,
    ...(opts.env && Object.keys(opts.env).length > 0 ? { env: { ...opts.env } } : {}),
    ...(extraSecrets.length > 0 ? { secrets: extraSecrets } : {}),
  };
  const validate = validators().instance;
  if (!validate(body)) throw new OpsError(`the desired file would not validate: ${validate.errors?.[0]?.instancePath} ${validate.errors?.[0]?.message}`, 'invalid');
  const text = [
    desiredSchemaLine(paths.desired, root),
    `# Created by tend create on ${new Date().toISOString().slice(0, 10)}. Secret values live in ${displayPath(project, envFile)} (0600), never here.`,
    stringify(body),
  ].join('\n');

  return withInstanceLock(paths, name, async () => {
    mkdirSync(paths.desired, { recursive: true });
    if (!createFileExclusive(file, text)) throw new OpsError(`${rel} exists: instance ${name} is already declared`, 'refused');
    let runtime: Runtime | undefined;
    try {
      if (Object.keys(values).length > 0) editEnvFile(envFile, values);
      const entry = reloadDesired(project).entries.find((e) => e.name === name);
      if (entry?.status !== 'valid') {
        const diagnostics = entry?.status === 'invalid' ? entry.diagnostics : [];
        throw new OpsError(`${rel} does not validate:\n${diagnostics.map(formatDiagnostic).join('\n')}`, 'invalid', diagnostics);
      }
      runtime = entry.runtime;
      const result: CreateResult = {
        name, file: rel, version: tag, port, address: entry.spec.address, url: urlOf(entry.spec.address, port), runtime,
        secrets: Object.keys(values).sort(), inGit: inGitRepo(paths.desired),
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
      const left = await undo();
      const tail = left.length > 0 ? `; NOT cleaned up: ${left.join('; ')}` : '; nothing was left behind';
      if (signal?.aborted) throw new OpsError(`interrupted: ${name} was not created${tail}`, 'aborted');
      if (err instanceof OpsError) throw new OpsError(`${err.message}${tail}`, err.code, err.diagnostics, err);
      throw new OpsError(`${name} was not created: ${errorMessage(err)}${tail}`, 'failed');
    }

    /** Removes what this create made; returns what could not be removed. */
    async function undo(): Promise<string[]> {
      const left: string[] = [];
      rmSync(file, { force: true });
      try {
        await removeFromRuntimes(project, name, {
          ...(runtime ? { runtimes: [runtime] } : {}), ...(opts.log ? { log: opts.log } : {}), ...(opts.updatedBy ? { updatedBy: opts.updatedBy } : {}),
        });
      } catch (err) {
        left.push(errorMessage(err));
      }
      if (dirBefore === undefined) {
        rmSync(dir, { recursive: true, force: true });
      } else {
        for (const f of readdirSync(dir)) if (f !== '.env') rmSync(join(dir, f), { recursive: true, force: true });
        if (envBefore === undefined) rmSync(envFile, { force: true });
        else if (readOptional(envFile) !== envBefore) writeFileAtomic(envFile, envBefore, 0o600);
      }
      return left;
    }
  }, { ...(signal ? { signal } : {}), purpose: `tend create ${name}` });
}
