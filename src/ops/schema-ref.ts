// The `# yaml-language-server: $schema=...` first line of files tend writes, so editors complete and check them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { SCHEMA_DIR } from '../spec/schemas.js';

/** Where `tend init` puts the root's own copy of the schemas (committed with it, so the lines survive a clone). */
export const ROOT_SCHEMA_DIR = 'schemas';
/** The schemas copied into a root (tend.schema.json refers to instance.schema.json beside it). */
export const ROOT_SCHEMAS = ['tend.schema.json', 'instance.schema.json'] as const;

const LINE = /^#\s*yaml-language-server:\s*\$schema=(\S+)/;

/**
 * The schema line pointing from `dir` to `schema` (e.g. `instance.schema.json`): the root's copy
 * (`<root>/schemas/`, written by `tend init`) when `root` has one, else tend's own copy.
 */
export function schemaLine(dir: string, schema: string, root?: string): string {
  const own = root === undefined ? undefined : join(root, ROOT_SCHEMA_DIR, schema);
  const target = own !== undefined && existsSync(own) ? own : join(SCHEMA_DIR, schema);
  const rel = relative(dir, target).split(sep).join('/');
  return `# yaml-language-server: $schema=${rel}`;
}

/** The schema line the desired files in `desiredDir` already use (so a new one matches them), else schemaLine(). */
export function desiredSchemaLine(desiredDir: string, root: string = dirname(desiredDir)): string {
  let names: string[] = [];
  try {
    names = readdirSync(desiredDir).filter((n) => /\.ya?ml$/.test(n) && !n.startsWith('.')).sort();
  } catch { /* no desired/ yet */ }
  for (const n of names) {
    try {
      const first = readFileSync(join(desiredDir, n), 'utf8').split('\n', 1)[0] ?? '';
      const m = LINE.exec(first);
      if (m && m[1]!.endsWith('instance.schema.json')) return `# yaml-language-server: $schema=${m[1]}`;
    } catch { /* unreadable: skip */ }
  }
  return schemaLine(desiredDir, 'instance.schema.json', root);
}
