// Observation: what releases/ holds, read from each release's manifest.json.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuiltRelease } from '../model/types.js';

const REQUIRED = ['version', 'commit', 'builtAt', 'artifacts'] as const;

export function readBuiltReleases(releasesDir: string): Record<string, BuiltRelease> {
  const out: Record<string, BuiltRelease> = {};
  let names: string[] = [];
  try {
    names = readdirSync(releasesDir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch {
    return out;
  }
  for (const version of names.sort()) {
    const file = join(releasesDir, version, 'manifest.json');
    if (!existsSync(file)) {
      out[version] = { version, commit: '', valid: false, problem: 'manifest.json is missing' };
      continue;
    }
    try {
      const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      const missing = REQUIRED.filter((k) => m[k] === undefined);
      const image = m.image as { id?: string } | undefined;
      out[version] = {
        version, commit: String(m.commit ?? ''), valid: missing.length === 0,
        ...(missing.length > 0 ? { problem: `manifest.json lacks ${missing.join(', ')}` } : {}),
        ...(image?.id ? { imageId: image.id } : {}),
      };
    } catch (err) {
      out[version] = { version, commit: '', valid: false, problem: `manifest.json is unreadable: ${(err as Error).message}` };
    }
  }
  return out;
}
