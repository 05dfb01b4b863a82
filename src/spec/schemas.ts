// Loads the published JSON schemas and compiles them with ajv (+ ajv-formats).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export const SCHEMA_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

export function readSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_DIR + file, 'utf8')) as Record<string, unknown>;
}

type Validators = Record<'tend' | 'instance' | 'plan' | 'observed', ValidateFunction>;

let cached: Validators | undefined;

/** Compiled validators for tend.yaml, desired files, plan JSON and observed snapshots. */
export function validators(): Validators {
  if (cached) return cached;
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addVocabulary(['x-message']);
  const instance = readSchema('instance.schema.json');
  ajv.addSchema(instance);
  cached = {
    instance: ajv.compile(instance),
    tend: ajv.compile(readSchema('tend.schema.json')),
    plan: ajv.compile(readSchema('plan.schema.json')),
    observed: ajv.compile(readSchema('observed.schema.json')),
  };
  return cached;
}

let reserved: readonly string[] | undefined;

/** Words an instance may not be named (from instance.schema.json, so there is one list; read once). */
export function reservedNames(): readonly string[] {
  if (reserved) return reserved;
  const defs = readSchema('instance.schema.json').definitions as { instanceName: { not: { enum: string[] } } };
  reserved = Object.freeze([...defs.instanceName.not.enum]);
  return reserved;
}
