// Acceptance corpus for desired files: every case runs the real CLI (`tend validate -C <root>`)
// and its diagnostic lines must equal test/corpus/cases/<case>.expected byte for byte.
//
// A case is a `<case>.expected` file plus, unless it is generated below, a `<case>/desired/`
// folder copied next to the shared test/corpus/tend.yaml in a fresh temporary root.
// Cases named `valid-*` are controls: no diagnostics, exit 0. Every other case must expect at
// least one error and exit 1.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, REPO, tend } from './helpers/cli.js';

const CORPUS = join(REPO, 'test', 'corpus');
const CASES = join(CORPUS, 'cases');

/** Cases whose files are made at test time rather than committed (too big, or machine-specific). */
const GENERATED: Record<string, (root: string) => Promise<void>> = {
  // Over the 1 MiB limit: valid YAML that must not even be read.
  'big-file': async (root) => {
    const head = 'version: v1.0.0\nport: 8080\n';
    const size = 2 * 1024 * 1024;
    const pad = '# padding to push this file over the size limit\n';
    const body = head + pad.repeat(Math.ceil(size / pad.length));
    await writeFile(join(root, 'desired', 'big.yaml'), body.slice(0, size - 1) + '\n');
  },
  // A link to a valid desired file outside desired/: refused, so it would be valid only if followed.
  'symlink-outside': async (root) => {
    const outside = join(root, 'outside.yaml');
    await writeFile(outside, 'version: v1.0.0\nport: 8080\n');
    await symlink(outside, join(root, 'desired', 'evil.yaml'));
  },
};

const caseNames = readdirSync(CASES)
  .filter((f) => f.endsWith('.expected'))
  .map((f) => f.slice(0, -'.expected'.length))
  .sort();

const SUMMARY = /^(\d+) of (\d+) desired files? valid; (\d+) errors?, (\d+) warnings?$/;

// `npm test` typechecks but does not build; the corpus runs the built CLI (npm run build, once).
beforeAll(() => buildOnce(), 120_000);

/** The environment without tend's path overrides, so only -C decides where files are. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('TEND_')) delete env[k];
  return env;
}

/** Build the case's deployment root in a fresh temporary folder, run validate there, remove it. */
async function runCase(name: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = await mkdtemp(join(tmpdir(), `tend-corpus-${name}-`));
  try {
    await cp(join(CORPUS, 'tend.yaml'), join(root, 'tend.yaml'));
    const committed = join(CASES, name, 'desired');
    if (existsSync(committed)) await cp(committed, join(root, 'desired'), { recursive: true });
    else await mkdir(join(root, 'desired'));
    await GENERATED[name]?.(root);
    return await tend(['validate', '-C', root], { cwd: root, env: cleanEnv(), extendEnv: false });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

describe('desired-file corpus (tend validate)', () => {
  it('is complete: enough cases, each with its files, no stray folders', () => {
    const errorCases = caseNames.filter((n) => !n.startsWith('valid-'));
    expect(errorCases.length).toBeGreaterThanOrEqual(18);
    expect(caseNames.some((n) => n.startsWith('valid-'))).toBe(true);
    for (const name of caseNames) {
      const hasFiles = existsSync(join(CASES, name, 'desired')) || name in GENERATED;
      expect(hasFiles, `${name}: no desired/ folder and not generated`).toBe(true);
    }
    const folders = readdirSync(CASES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    for (const folder of folders) expect(caseNames, `${folder}/ has no ${folder}.expected`).toContain(folder);
    for (const name of Object.keys(GENERATED)) expect(caseNames).toContain(name);
  });

  for (const name of caseNames) {
    const control = name.startsWith('valid-');
    // Each case is its own temporary root and CLI process, so they can run side by side.
    it.concurrent(name, async ({ expect }) => {
      const expected = readFileSync(join(CASES, `${name}.expected`), 'utf8');
      const expectedErrors = expected.split('\n').filter((l) => l.includes(': error: ')).length;
      if (control) expect(expected, 'a valid-* control expects no diagnostics').toBe('');
      else expect(expectedErrors, 'a malformed case must expect at least one error').toBeGreaterThan(0);

      const { code, stdout, stderr } = await runCase(name);
      expect(stderr).toBe('');
      expect(stdout.endsWith('\n'), `stdout must end with a newline: ${JSON.stringify(stdout)}`).toBe(true);
      const lines = stdout.slice(0, -1).split('\n');
      const summary = lines.pop()!;
      const diagnostics = lines.map((l) => `${l}\n`).join('');
      expect(diagnostics).toBe(expected);
      const counts = SUMMARY.exec(summary);
      expect(counts, `summary line: ${summary}`).not.toBeNull();
      expect(Number(counts![3])).toBe(expectedErrors);
      expect(code).toBe(control ? 0 : 1);
    });
  }
});
