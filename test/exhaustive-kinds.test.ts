// Adding a health check kind, an action kind or a runtime verb that nothing handles is a compile
// error: each case copies src/ aside, makes the one-line addition and runs the type checker, which
// must fail naming the switch or the handler table that lacks it (and pass on the unchanged copy).
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './helpers/cli.js';

const TSC = join(REPO, 'node_modules/.bin/tsc');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tend-kinds-'));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  const config = JSON.parse(readFileSync(join(REPO, 'tsconfig.json'), 'utf8')) as { include: string[] };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...config, include: ['src'] }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Type-checks a copy of src/ with `edits` (file -> text rewrite) applied; returns tsc's exit code and output. */
async function checkWith(edits: Record<string, (text: string) => string>): Promise<{ code: number; out: string }> {
  const copy = join(dir, 'src');
  rmSync(copy, { recursive: true, force: true });
  cpSync(join(REPO, 'src'), copy, { recursive: true });
  for (const [file, edit] of Object.entries(edits)) {
    const path = join(copy, file);
    const before = readFileSync(path, 'utf8');
    const after = edit(before);
    expect(after, `the edit of ${file} changed nothing`).not.toBe(before);
    writeFileSync(path, after);
  }
  const r = await execa(TSC, ['-p', 'tsconfig.json', '--noEmit', '--pretty', 'false'], { cwd: dir, reject: false, all: true });
  return { code: r.exitCode ?? -1, out: String(r.all) };
}

/** An error in `file` whose message (first line or the lines under it) matches `text`. */
const errorIn = (file: string, text: string) => new RegExp(`src/${file.replace(/[./]/g, (c) => `\\${c}`)}\\(\\d+,\\d+\\): error[^\n]*(\n {2}[^\n]*)*${text}`);

// One type check per case (each takes tens of seconds on a loaded machine), so unrelated additions share one.
describe('unhandled kinds do not compile (tsc on a copy of src/)', () => {
  it('a new health check kind, a new lifecycle verb and a new runtime: each switch and table that lacks it is an error', async () => {
    const r = await checkWith({
      'model/types.ts': (t) => t
        .replace(/export type HealthCheck =\n/, "export type HealthCheck =\n  | { kind: 'grpc'; service: string }\n")
        .replace("export type Runtime = 'systemd' | 'launchd' | 'docker' | 'tmux';", "export type Runtime = 'systemd' | 'launchd' | 'docker' | 'tmux' | 'podman';"),
      'model/plan.ts': (t) => t.replace("export type LifecycleActionType = 'start' | 'stop' | 'restart' | 'delete';", "export type LifecycleActionType = 'start' | 'stop' | 'restart' | 'delete' | 'reload';"),
    });
    expect(r.code).not.toBe(0);
    // The health check kind: its probe and its description.
    expect(r.out).toMatch(errorIn('health/check.ts', "not assignable to type 'never'"));
    expect(r.out).toMatch(errorIn('shared/health-check.ts', "not assignable to type 'never'"));
    // The verb: every driver's handler table.
    for (const rt of ['systemd', 'launchd', 'docker', 'tmux']) expect(r.out, rt).toMatch(errorIn(`drivers/${rt}/apply.ts`, "Property 'reload' is missing"));
    // The runtime: its verbs, driver, compare, names and the verb that makes its thing.
    for (const file of ['model/plan.ts', 'drivers/registry.ts', 'drivers/compare.ts', 'spec/names.ts', 'planner/instance.ts']) {
      expect(r.out, file).toMatch(errorIn(file, 'podman'));
    }
  }, 300_000);

  it('a new action kind without a case in the executor', async () => {
    const r = await checkWith({
      'model/plan.ts': (t) => t.replace(
        'export type Action = BuildAction |',
        "export interface DrainAction extends InstanceActionBase { type: 'drain'; runtime: Runtime; target: string }\nexport type Action = DrainAction | BuildAction |",
      ),
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(errorIn('executor/execute.ts', "Type 'DrainAction' is not assignable to type 'never'"));
    // Nothing else breaks: the union is read through its kinds everywhere else.
    expect(r.out.split('\n').filter((l) => /^src\//.test(l)).every((l) => l.startsWith('src/executor/execute.ts'))).toBe(true);
  }, 300_000);
});
