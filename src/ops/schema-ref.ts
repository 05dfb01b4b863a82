// The `# yaml-language-server: $schema=...` first line of files tend writes, so editors complete and check them.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { SCHEMA_DIR } from '../spec/schemas.js';

const LINE = /^#\s*yaml-language-server:\s*\$schema=(\S+)/;

/** The schema line pointing from `dir` to tend's own copy of `schema` (e.g. `instance.schema.json`). */
export function schemaLine(dir: string, schema: string): string {
  const rel = relative(dir, join(SCHEMA_DIR, schema)).split(sep).join('/');
  return `# yaml-language-server: $schema=${rel}`;
}

/** The schema line the desired files in `desiredDir` already use (so a new one matches them), else schemaLine(). */
export function desiredSchemaLine(desiredDir: string): string {
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
  return schemaLine(desiredDir, 'instance.schema.json');
}
