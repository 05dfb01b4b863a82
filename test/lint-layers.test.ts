// `npm run lint` holds the folder layers (.dependency-cruiser.cjs) and keeps printing in cli/ (eslint):
// each rule is shown failing on a deliberately bad tree, and the real src/ passing.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ESLint } from 'eslint';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO } from './helpers/cli.js';

const DEPCRUISE = join(REPO, 'node_modules/.bin/depcruise');
const CONFIG = join(REPO, '.dependency-cruiser.cjs');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A throw-away tree of src/ files (path -> source) checked with the repository's rules. */
async function cruise(files: Record<string, string>): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tend-lint-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true } }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const r = await execa(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'err'], { cwd: dir, reject: false, all: true });
  return { code: r.exitCode ?? -1, out: String(r.all) };
}

const leaf = 'export const x = 1;\n';

describe('dependency-cruiser layers (npm run lint)', () => {
  it('passes a tree that only imports downwards', async () => {
    const r = await cruise({
      'src/model/types.ts': leaf,
      'src/planner/plan.ts': "import { x } from '../model/types.js';\nexport const y = x;\n",
      'src/ops/run.ts': "import { y } from '../planner/plan.js';\nexport const z = y;\n",
    });
    expect(r.out).toContain('no dependency violations');
    expect(r.code).toBe(0);
  });

  it('fails on an import that runs back up a layer (a folder cycle in the making)', async () => {
    const r = await cruise({
      'src/state/status.ts': "import { z } from '../ops/run.js';\nexport const s = z;\n",
      'src/ops/run.ts': "import { s } from '../state/status.js';\nexport const z = 1;\nexport const t = s;\n",
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('layer-state');
    expect(r.out).toContain('src/state/status.ts → src/ops/run.ts');
  });

  it('fails on a module cycle inside one folder', async () => {
    const r = await cruise({
      'src/executor/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'src/executor/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('no-circular');
  });

  it.each([
    ["import { readFileSync } from 'node:fs';\nexport const p = readFileSync;\n", 'planner-is-pure'],
    ["import { x } from '../state/status.js';\nexport const p = x;\n", 'planner-is-pure'],
    ["import { x } from '../drivers/docker/apply.js';\nexport const p = x;\n", 'planner-is-pure'],
    ["import { x } from '../executor/run.js';\nexport const p = x;\n", 'layer-planner'],
  ])('keeps the planner pure: %s', async (code, rule) => {
    const r = await cruise({
      'src/planner/probe.ts': code,
      'src/state/status.ts': leaf,
      'src/drivers/docker/apply.ts': leaf,
      'src/executor/run.ts': leaf,
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(rule);
  });

  it('lets the planner use driver types and the pure compare registry', async () => {
    const r = await cruise({
      'src/drivers/types.ts': leaf,
      'src/drivers/docker/compare.ts': leaf,
      'src/drivers/compare.ts': "import { x } from './docker/compare.js';\nexport const c = x;\n",
      'src/planner/probe.ts': "import { c } from '../drivers/compare.js';\nimport { x } from '../drivers/types.js';\nexport const p = [c, x];\n",
    });
    expect(r.out).toContain('no dependency violations');
  });

  it('fails when one runtime driver imports another', async () => {
    const r = await cruise({
      'src/drivers/systemd/unit.ts': leaf,
      'src/drivers/docker/apply.ts': "import { x } from '../systemd/unit.js';\nexport const a = x;\n",
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('drivers-are-independent');
  });

  it('the real src/ passes', async () => {
    const r = await execa(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'err'], { cwd: REPO, reject: false, all: true });
    expect(r.all).toContain('no dependency violations');
    expect(r.exitCode).toBe(0);
  }, 120_000);
});

describe('only cli/ prints or exits (eslint)', () => {
  const eslint = new ESLint({ cwd: REPO });
  const lint = async (file: string, code: string) =>
    (await eslint.lintText(code, { filePath: join(REPO, file) }))[0]!.messages.map((m) => m.ruleId);

  it.each([
    ["console.log('x');\n", 'no-console'],
    ["process.stdout.write('x');\n", 'no-restricted-properties'],
    ['process.exit(1);\n', 'no-restricted-properties'],
  ])('rejects %s outside cli/', async (code, rule) => {
    expect(await lint('src/ops/probe.ts', code)).toContain(rule);
    expect(await lint('src/cli/probe.ts', code)).toEqual([]);
  });
});
