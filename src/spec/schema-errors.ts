// Turns ajv errors into diagnostics with readable messages at the YAML position they concern.
import type { ErrorObject } from 'ajv';
import { isScalar } from 'yaml';
import type { Diagnostic } from '../model/types.js';
import { positionOf, type YamlSource } from './yaml-source.js';

type Schema = Record<string, unknown> & { 'x-message'?: string; properties?: Record<string, unknown> };

/** JSON pointer `/docker/volumes/0` -> ['docker', 'volumes', 0]. */
export function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** ['docker', 'volumes', 0] -> `docker.volumes[0]`, with an optional prefix such as `defaults`. */
export function displayPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  integer: 'an integer', number: 'a number', string: 'a string', boolean: 'a boolean',
  object: 'a mapping (key: value)', array: 'a list', null: 'null',
};

function typeWords(type: unknown): string {
  const types = (Array.isArray(type) ? type : [type]).map(String);
  // Alone, "true or false" reads better than "a boolean"; in a list it would read "... or true or false".
  if (types.length === 1 && types[0] === 'boolean') return 'true or false';
  const list = types.map((t) => TYPE_WORDS[t] ?? t);
  return list.length === 1 ? list[0]! : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}

/** `port must be an integer`, with what is wrong about the value when that is not obvious from it. */
function typeMessage(source: YamlSource, path: readonly (string | number)[], subject: string, err: ErrorObject): string {
  const type = (err.params as Record<string, unknown>).type;
  const types = (Array.isArray(type) ? type : [type]).map(String);
  if (err.data === null && !types.includes('null')) return `${subject} is empty; it must be ${typeWords(type)}`;
  if (types.length === 1 && types[0] === 'string' && (typeof err.data === 'number' || typeof err.data === 'boolean')) {
    // `version: 1.0` is the number 1 to YAML; the operator meant the text.
    const written = scalarSource(source, path) ?? String(err.data);
    return `${subject} must be a string; YAML reads ${written} as a ${typeof err.data}, so quote it: "${written}"`;
  }
  return `${subject} must be ${typeWords(type)}`;
}

function scalarSource(source: YamlSource, path: readonly (string | number)[]): string | undefined {
  const node = source.doc?.getIn(path, true);
  return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
}

function itemText(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : JSON.stringify(v);
}

/** Closest allowed key within a small edit distance (a swap of two letters counts as one), for "did you mean". */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestScore) { best = c; bestScore = d; }
  }
  return best !== undefined && bestScore <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps (`prot` -> `port`). */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      cur[j] = d;
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

function describe(source: YamlSource, path: readonly (string | number)[], err: ErrorObject, where: string): string {
  const schema = (err.parentSchema ?? {}) as Schema;
  const custom = schema['x-message'];
  const params = err.params as Record<string, unknown>;
  const subject = where === '' ? 'the file' : where;
  switch (err.keyword) {
    case 'required':
      return `${where === '' ? '' : `${where}.`}${String(params.missingProperty)} is required`;
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const full = where === '' ? key : `${where}.${key}`;
      const hint = suggest(key, Object.keys(schema.properties ?? {}));
      return `unknown key "${full}"${hint ? ` (did you mean "${where === '' ? hint : `${where}.${hint}`}"?)` : ''}`;
    }
    case 'type':
      return typeMessage(source, path, subject, err);
    case 'enum':
      return `${subject} must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'const':
      return `${subject} must be ${String(params.allowedValue)}`;
    case 'not': {
      const not = (schema.not ?? {}) as Schema;
      if (Array.isArray(not.enum)) return `${subject} "${String(err.data)}" is a reserved word`;
      return `${subject} ${custom ?? 'is not allowed'}`;
    }
    case 'minLength':
      return params.limit === 1 ? `${subject} must not be empty` : `${subject} must be at least ${String(params.limit)} characters`;
    case 'maxLength':
      return `${subject} must be at most ${String(params.limit)} characters`;
    case 'minItems':
      return params.limit === 1 ? `${subject} must not be empty` : `${subject} must have at least ${String(params.limit)} items`;
    case 'uniqueItems': {
      const [j, i] = [Number(params.j), Number(params.i)];
      const item = Array.isArray(err.data) ? itemText(err.data[i]) : 'an item';
      return `${subject} lists ${item} twice (${where}[${j}] and ${where}[${i}])`;
    }
    case 'pattern':
    case 'format':
    case 'anyOf':
      return `${subject} ${custom ?? err.message ?? 'is invalid'}`;
    default:
      return `${subject} ${err.message ?? 'is invalid'}`;
  }
}

/**
 * Map ajv errors for `source` to diagnostics. `prefix` is the path of the validated value
 * within the file (e.g. [] for a whole file).
 */
export function schemaDiagnostics(source: YamlSource, errors: readonly ErrorObject[] | null | undefined): Diagnostic[] {
  if (!errors) return [];
  // Sub-errors of an anyOf, and the generic propertyNames wrapper, add noise to a clearer error.
  const kept = errors.filter((e) => !e.schemaPath.includes('/anyOf/') && e.keyword !== 'propertyNames' && e.keyword !== 'if');
  const typeFailed = new Set(kept.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const out: Diagnostic[] = [];
  for (const err of kept) {
    if (err.keyword !== 'type' && typeFailed.has(err.instancePath)) continue;
    const path = pointerToPath(err.instancePath);
    const params = err.params as Record<string, unknown>;
    let message: string;
    let pos;
    if (typeof err.propertyName === 'string') {
      // Errors under propertyNames concern a key: point at it and name it (ajv sets propertyName on them).
      pos = positionOf(source, [...path, err.propertyName], true);
      message = `${displayPath(path)} key "${err.propertyName}" ${(err.parentSchema as Schema | undefined)?.['x-message'] ?? err.message}`;
    } else if (err.keyword === 'additionalProperties') {
      pos = positionOf(source, [...path, String(params.additionalProperty)], true);
      message = describe(source, path, err, displayPath(path));
    } else if (err.keyword === 'uniqueItems' && Array.isArray(err.data)) {
      // Point at the repeated item, not at the list.
      pos = positionOf(source, [...path, Number(params.i)]);
      message = describe(source, path, err, displayPath(path));
    } else {
      pos = positionOf(source, path);
      message = describe(source, path, err, displayPath(path));
    }
    out.push({ severity: 'error', file: source.file, line: pos.line, col: pos.col, message });
  }
  return out;
}
