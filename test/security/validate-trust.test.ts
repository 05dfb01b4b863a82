// `tend validate` names what apply would refuse for trust reasons (issue 13): a relative health.exec
// that climbs out of the release, a docker volume over tend's own part of the instance directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, tend } from '../helpers/cli.js';
import { useScratch } from '../helpers/scratch.js';

const scratch = useScratch();

describe('tend validate: trust refusals with file:line:col (built CLI)', () => {
  let root: string;
  beforeAll(async () => {
    await buildOnce();
    root = scratch('validate-trust');
    mkdirSync(join(root, 'desired'));
    writeFileSync(join(root, 'tend.yaml'), 'apiVersion: tend/v1\napp: vt\nsource:\n  run:\n    artifact: bin/x\n');
  }, 120_000);

  it('refuses ../ out of the release and volumes over ., .env and logs/; accepts the release\'s ./check and app folders', async () => {
    writeFileSync(join(root, 'desired', 'web.yaml'), [
      'version: v1.0.0', 'port: 8080', 'runtime: docker', 'health:', '  exec: ["../../instances/web/check.sh", "--ready"]',
      'docker:', '  volumes: ["./:/x", "./data/cache:/cache", ".env:/e", "./logs:/l", "named:/n", "/srv/shared:/s"]', '',
    ].join('\n'));
    const r = await tend(['-C', root, 'validate']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('desired/web.yaml:5:10: error: health.exec ../../instances/web/check.sh climbs out of the release directory');
    for (const v of ['./:/x', '.env:/e', './logs:/l']) expect(r.stdout + r.stderr).toMatch(new RegExp(`desired/web\\.yaml:7:\\d+: error: docker\\.volumes ${v.replace(/[./]/g, '\\$&')}: `));
    expect(r.stdout + r.stderr).not.toContain('./data/cache');
    expect(r.stdout + r.stderr).toContain('4 errors');
    writeFileSync(join(root, 'desired', 'web.yaml'), [
      'version: v1.0.0', 'port: 8080', 'runtime: docker', 'health:', '  exec: ["./bin/check", "--ready"]',
      'docker:', '  volumes: ["./data/cache:/cache", "named:/n"]', '',
    ].join('\n'));
    const ok = await tend(['-C', root, 'validate']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  }, 60_000);
});
