// The plan for examples/ is byte-identical to the committed goldens across processes,
// file creation order, TZ and LANG.
import { cpSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, REPO, tend } from './helpers/cli.js';
import { validators } from '../src/spec/schemas.js';
import { useScratch } from './helpers/scratch.js';

const EXAMPLES = join(REPO, 'examples');
const SNAPSHOT = join(REPO, 'examples/empty-host.json');
const GOLDEN_TEXT = join(REPO, 'test/golden/examples.plan.txt');
const GOLDEN_JSON = join(REPO, 'test/golden/examples.plan.json');
const scratch = useScratch();

/** Copy examples/ into a fresh root, writing the desired files in the given order. */
function copyRoot(order: 'forward' | 'reverse'): string {
  const root = scratch(`golden-${order}`);
  cpSync(join(EXAMPLES, 'tend.yaml'), join(root, 'tend.yaml'));
  mkdirSync(join(root, 'desired'));
  const files = readdirSync(join(EXAMPLES, 'desired')).sort();
  if (order === 'reverse') files.reverse();
  for (const f of files) writeFileSync(join(root, 'desired', f), readFileSync(join(EXAMPLES, 'desired', f)));
  return root;
}

const ENVS = [
  { TZ: 'UTC', LANG: 'C', LC_ALL: 'C' },
  { TZ: 'Pacific/Chatham', LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' },
];

beforeAll(async () => {
  await buildOnce();
}, 120_000);

describe('golden plan for examples/', () => {
  for (const format of ['text', 'json'] as const) {
    it(`${format}: same bytes across two processes, reversed file order, other TZ and LANG`, async () => {
      const roots = [copyRoot('forward'), copyRoot('reverse')];
      const outputs: string[] = [];
      for (const [i, root] of roots.entries()) {
        const args = ['reconcile', '--dry-run', '-C', root, '--observed', SNAPSHOT, ...(format === 'json' ? ['--json'] : [])];
        const r = await tend(args, { env: { ...process.env, ...ENVS[i] } });
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        outputs.push(r.stdout);
      }
      expect(outputs[1]).toBe(outputs[0]);
      const golden = format === 'json' ? GOLDEN_JSON : GOLDEN_TEXT;
      if (process.env.TEND_UPDATE_GOLDEN === '1') writeFileSync(golden, outputs[0]!);
      expect(outputs[0]).toBe(readFileSync(golden, 'utf8'));
    });
  }

  it('JSON plan matches schemas/plan.schema.json and carries formatVersion 2', async () => {
    const r = await tend(['reconcile', '--dry-run', '--json', '-C', EXAMPLES, '--observed', SNAPSHOT]);
    const plan = JSON.parse(r.stdout) as { formatVersion: number; summary: { create: number }; actions: { id: string; dependsOn: string[] }[] };
    const validate = validators().plan;
    expect(validate(plan), JSON.stringify(validate.errors)).toBe(true);
    expect(plan.formatVersion).toBe(2);
    expect(plan.summary.create).toBe(3);
    // Actions come in an order that respects dependsOn.
    const seen = new Set<string>();
    for (const a of plan.actions) {
      for (const d of a.dependsOn) expect(seen.has(d), `${a.id} after ${d}`).toBe(true);
      seen.add(a.id);
    }
  });

  it('the text plan starts with the summary line', () => {
    const text = readFileSync(GOLDEN_TEXT, 'utf8');
    expect(text.split('\n')[0]).toBe('Plan: 3 to create, 0 to update, 0 to delete, 0 held');
    expect(text).toContain('+ create web (systemd, v1.3.0)');
  });
});
