// Loads every file in desired/: guards (size, symlinks, names), parsing, validation, cross-file checks.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { DesiredEntry, DesiredState, Diagnostic, Position, Runtime, TendConfig } from '../model/types.js';
import { checkInstance } from './instance.js';
import { parseYamlSource, positionOf, hasPath, type YamlSource } from './yaml-source.js';
import { sortDiagnostics } from '../shared/diagnostics.js';
import { reservedNames } from './schemas.js';
import { portProblems, type PortClaim, type PortHolderCandidate } from './port-claims.js';

export const MAX_DESIRED_BYTES = 1024 * 1024;
const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export interface LoadDesiredOptions {
  root: string;
  desiredDir: string;
  config: TendConfig;
  platform: string;
  /** `validate` warns about launchd on other hosts; planning leaves that to the planner. */
  launchdWarn: boolean;
  /** What `runtime: auto` resolves to on this host (autoRuntime()); unset: launchd on darwin, else systemd. */
  autoRuntime?: Runtime;
  /**
   * The spec last applied to an instance (status.json `applied`): who holds a port two files want (see
   * port-claims.ts). state/desired.ts reads it from instances/; without it, nobody holds a port yet.
   */
  appliedSpecOf?: (name: string) => PortHolderCandidate['applied'] | undefined;
}

interface FileResult {
  entry: DesiredEntry;
  /** Where the cross-file checks point: the document (`[]`) and its `port` key. */
  anchors: { root: Position; port: Position };
  /** Every diagnostic of the file, warnings included. */
  diagnostics: Diagnostic[];
}

/**
 * Parsed and validated files of this process, by absolute path: an unchanged file is not parsed
 * again (the agent loads desired/ on every resync and every reconcile). The key is the sha1 of the
 * bytes read plus everything else the result depends on (tend.yaml's config, root, platform,
 * options), so a rewrite is always noticed, even one of the same size within the same millisecond.
 * Callers get a deep copy: the cached result is never handed out or changed.
 */
const fileCache = new Map<string, { key: string; result: FileResult }>();
const FILE_CACHE_MAX = 4096;
export const desiredCacheStats = { parses: 0, hits: 0 };

/** Forget every cached file (tests compare cached loads with uncached ones). */
export function clearDesiredCache(): void {
  fileCache.clear();
}

function anchor(source: YamlSource | undefined, path: string[]): Position {
  return source && hasPath(source, path) ? positionOf(source, path) : { line: 1, col: 1 };
}

function display(root: string, path: string): string {
  const rel = relative(root, path);
  return rel === '' || rel.startsWith('..') ? path : rel.split(sep).join('/');
}

/** A file name that loadDesired reads as a desired file (`web.yaml`; not `.web.yaml` or `README.md`). */
export function isDesiredFileName(base: string): boolean {
  return !base.startsWith('.') && /\.ya?ml$/.test(base);
}

export function loadDesired(opts: LoadDesiredOptions): DesiredState {
  const desiredDir = display(opts.root, opts.desiredDir);
  const state: DesiredState = { config: opts.config, desiredDir, dirExists: false, entries: [], diagnostics: [] };
  let names: string[];
  try {
    if (!statSync(opts.desiredDir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(opts.desiredDir);
    state.dirExists = true;
  } catch {
    state.diagnostics.push({ severity: 'warning', file: desiredDir, message: `${desiredDir}/ does not exist: nothing is desired, and nothing will be deleted` });
    return state;
  }
  const realDir = realpathSync(opts.desiredDir);
  const context = JSON.stringify([opts.root, opts.platform, opts.launchdWarn, opts.autoRuntime ?? null, opts.config]);
  const results: FileResult[] = [];
  for (const base of names.sort()) {
    if (!isDesiredFileName(base)) continue;
    results.push(loadFile(opts, realDir, base, context));
  }
  crossFileChecks(results, opts.appliedSpecOf ?? (() => undefined));
  state.entries = results.map((r) => r.entry);
  state.diagnostics = sortDiagnostics(results.flatMap((r) => r.diagnostics));
  return state;
}

function loadFile(opts: LoadDesiredOptions, realDir: string, base: string, context: string): FileResult {
  const path = join(opts.desiredDir, base);
  const file = display(opts.root, path);
  const name = base.replace(/\.ya?ml$/, '');
  const invalid = (message: string): FileResult => {
    const diagnostics: Diagnostic[] = [{ severity: 'error', file, line: 1, col: 1, message, instance: name }];
    return { entry: { status: 'invalid', name, file, diagnostics }, anchors: { root: { line: 1, col: 1 }, port: { line: 1, col: 1 } }, diagnostics };
  };
  if (!NAME.test(name) || name.length > 63) {
    return invalid(`file name "${base}" must be <instance>.yaml with a lowercase DNS label (a-z, 0-9, '-', at most 63 characters)`);
  }
  if (reservedNames().includes(name)) return invalid(`file name "${base}": instance name "${name}" is a reserved word`);
  const link = lstatSync(path);
  if (link.isSymbolicLink()) {
    let target: string;
    try {
      target = realpathSync(path);
    } catch {
      return invalid('symlink points to a file that does not exist; not read');
    }
    if (!target.startsWith(realDir + sep)) return invalid(`symlink points outside ${display(opts.root, opts.desiredDir)}/; not read`);
  }
  const stat = statSync(path);
  if (!stat.isFile()) return invalid('not a regular file; not read');
  if (stat.size > MAX_DESIRED_BYTES) return invalid(`file is ${stat.size} bytes, over the 1 MiB limit; not read`);

  const bytes = readFileSync(path);
  const abs = resolve(path);
  const key = `${createHash('sha1').update(bytes).digest('hex')}\u0000${file}\u0000${context}`;
  const cached = fileCache.get(abs);
  if (cached?.key === key) {
    desiredCacheStats.hits++;
    fileCache.delete(abs);
    fileCache.set(abs, cached);
    return structuredClone(cached.result);
  }
  const result = parseFile(opts, file, name, bytes.toString('utf8'));
  desiredCacheStats.parses++;
  fileCache.delete(abs);
  fileCache.set(abs, { key, result: structuredClone(result) });
  if (fileCache.size > FILE_CACHE_MAX) fileCache.delete(fileCache.keys().next().value!);
  return result;
}

function parseFile(opts: LoadDesiredOptions, file: string, name: string, text: string): FileResult {
  const source = parseYamlSource(file, text);
  const anchors = { root: anchor(source, []), port: anchor(source, ['port']) };
  let diagnostics = source.diagnostics;
  let checked;
  if (diagnostics.length === 0) {
    checked = checkInstance(source, name, opts.config, opts.platform, opts.launchdWarn, opts.autoRuntime);
    diagnostics = checked.diagnostics;
  }
  for (const d of diagnostics) d.instance = name;
  if (diagnostics.some((d) => d.severity === 'error') || !checked?.spec || !checked.runtime) {
    return { entry: { status: 'invalid', name, file, diagnostics }, anchors, diagnostics };
  }
  const positions = Object.fromEntries(
    ['version', 'runtime', 'state', 'port'].map((k) => [k, hasPath(source, [k]) ? positionOf(source, [k]) : { line: 1, col: 1 }]),
  );
  return { entry: { status: 'valid', name, file, runtime: checked.runtime, spec: checked.spec, positions }, anchors, diagnostics };
}

/** Checks that need several files: duplicate names and shared ports (the instance holding a port keeps it). Offenders become invalid. */
function crossFileChecks(results: FileResult[], appliedSpecOf: NonNullable<LoadDesiredOptions['appliedSpecOf']>): void {
  const fail = (r: FileResult, at: 'root' | 'port', message: string) => {
    const pos = r.anchors[at];
    r.diagnostics.push({ severity: 'error', file: r.entry.file, ...pos, message, instance: r.entry.name });
    if (r.entry.status === 'valid') r.entry = { status: 'invalid', name: r.entry.name, file: r.entry.file, diagnostics: r.diagnostics };
  };
  const byName = new Map<string, FileResult[]>();
  for (const r of results) byName.set(r.entry.name, [...(byName.get(r.entry.name) ?? []), r]);
  for (const group of byName.values()) {
    if (group.length < 2) continue;
    for (const r of group) {
      const others = group.filter((o) => o !== r).map((o) => o.entry.file).join(', ');
      fail(r, 'root', `instance ${r.entry.name} is also declared in ${others}`);
    }
  }
  const claims = new Map<PortClaim, FileResult>();
  for (const r of results) {
    if (r.entry.status === 'valid') claims.set({ name: r.entry.name, file: r.entry.file, port: r.entry.spec.port, address: r.entry.spec.address }, r);
  }
  // Who already holds a port: the spec last applied to each instance (status.json), whatever its file says now.
  const candidates: PortHolderCandidate[] = results.filter((r) => NAME.test(r.entry.name) && byName.get(r.entry.name)!.length === 1).map((r) => {
    const spec = appliedSpecOf(r.entry.name);
    return { name: r.entry.name, file: r.entry.file, valid: r.entry.status === 'valid', ...(spec ? { applied: spec } : {}) };
  });
  for (const problem of portProblems([...claims.keys()], candidates)) fail(claims.get(problem.claim)!, 'port', problem.message);
}
