// The tend CLI as an operator runs it: exit codes, -C before and after the subcommand, env overrides, --help.
import { cpSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, REPO, tend } from './helpers/cli.js';
import { validators } from '../src/spec/schemas.js';
import { useScratch } from './helpers/scratch.js';

const EXAMPLES = join(REPO, 'examples');
const SNAPSHOT = join(REPO, 'examples/empty-host.json');
const scratch = useScratch();

function scratchRoot(): string {
  const root = scratch('cli');
  cpSync(EXAMPLES, root, { recursive: true });
  return root;
}

beforeAll(async () => {
  await buildOnce();
}, 120_000);

describe('tend validate', () => {
  it('exits 0 on examples/ and reports the count', async () => {
    const r = await tend(['validate', '-C', 'examples']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('3 of 3 desired files valid; 0 errors, 0 warnings\n');
  });

  it('accepts -C before and after the subcommand, and finds tend.yaml from the working dir', async () => {
    const before = await tend(['-C', 'examples', 'validate']);
    const after = await tend(['validate', '-C', 'examples']);
    const fromCwd = await tend(['validate'], { cwd: join(EXAMPLES, 'desired') });
    expect([before.code, after.code, fromCwd.code]).toEqual([0, 0, 0]);
    expect(before.stdout).toBe(after.stdout);
    expect(fromCwd.stdout).toBe(after.stdout);
  });

  it('validates the commented top-level desired/ through TEND_DESIRED_DIR', async () => {
    const r = await tend(['validate', '-C', 'examples'], { env: { ...process.env, TEND_DESIRED_DIR: join(REPO, 'desired') } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('1 of 1 desired file valid; 0 errors, 0 warnings\n');
  });

  it('exits 1 and names tend.yaml when it is missing', async () => {
    const empty = scratch('cli-empty');
    const r = await tend(['validate', '-C', empty]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`error: tend.yaml not found in ${empty}`);
  });

  it('reports tend.yaml errors with line and column', async () => {
    const root = scratchRoot();
    writeFileSync(join(root, 'tend.yaml'), 'apiVersion: tend/v1\napp: demo\nprune:\n  maxShare: 2\nagent:\n  listen: nowhere\n');
    const r = await tend(['validate', '-C', root]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('tend.yaml:4:13: error: prune.maxShare must be <= 1\n');
    expect(r.stdout).toContain('tend.yaml:6:11: error: agent.listen must be HOST:PORT such as 127.0.0.1:9464 (port 0 picks a free one)\n');
  });

  it('--json lists instances and diagnostics', async () => {
    const root = scratchRoot();
    writeFileSync(join(root, 'desired', 'bad.yaml'), 'version: v1\nport: 99999\n');
    const r = await tend(['validate', '--json', '-C', root]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; instances: { name: string; status: string }[]; diagnostics: { file: string; line: number; col: number; message: string }[] };
    expect(out.ok).toBe(false);
    expect(out.instances.map((i) => `${i.name}:${i.status}`)).toEqual(['api:valid', 'bad:invalid', 'web:valid', 'worker:valid']);
    expect(out.diagnostics).toEqual([
      { severity: 'error', file: 'desired/bad.yaml', line: 2, col: 7, message: 'port must be <= 65535', instance: 'bad' },
    ]);
  });

  it('warns about launchd on a non-macOS host but still exits 0', async () => {
    const root = scratchRoot();
    writeFileSync(join(root, 'desired', 'mac.yaml'), 'version: v1.0.0\nruntime: launchd\nport: 9001\n');
    const r = await tend(['validate', '-C', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('desired/mac.yaml:2:10: warning: runtime launchd needs macOS; this host is linux');
  });
});

describe('tend reconcile --dry-run', () => {
  it('--detailed-exitcode: 2 when actions are planned, 0 when nothing to do, 1 on errors', async () => {
    const planned = await tend(['reconcile', '--dry-run', '--detailed-exitcode', '-C', 'examples', '--observed', SNAPSHOT]);
    expect(planned.code).toBe(2);
    const root = scratchRoot();
    rmSync(join(root, 'desired'), { recursive: true });
    mkdirSync(join(root, 'desired'));
    const nothing = await tend(['reconcile', '--dry-run', '--detailed-exitcode', '-C', root, '--observed', SNAPSHOT]);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toContain('No changes. Nothing to do.');
    writeFileSync(join(root, 'desired', 'bad.yaml'), 'version: [\n');
    const broken = await tend(['reconcile', '--dry-run', '--detailed-exitcode', '-C', root, '--observed', SNAPSHOT]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('x invalid bad');
  });

  it('without --detailed-exitcode a plan with actions exits 0', async () => {
    const r = await tend(['reconcile', '--dry-run', '-C', 'examples', '--observed', SNAPSHOT]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('Plan: 3 to create, 0 to update, 0 to delete, 0 held');
  });

  it('launchd is an error when planning on this host', async () => {
    const root = scratchRoot();
    writeFileSync(join(root, 'desired', 'mac.yaml'), 'version: v1.0.0\nruntime: launchd\nport: 9001\n');
    const r = await tend(['reconcile', '--dry-run', '-C', root, '--observed', SNAPSHOT]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('desired/mac.yaml:2:10: error: runtime launchd needs macOS; this host is linux');
    expect(r.stdout).toContain('+ create web');
  });

  it('--json on a broken tend.yaml still prints a plan document with the diagnostics', async () => {
    const root = scratchRoot();
    writeFileSync(join(root, 'tend.yaml'), 'apiVersion: tend/v2\napp: demo\n');
    const r = await tend(['reconcile', '--dry-run', '--json', '-C', root]);
    expect(r.code).toBe(1);
    const plan = JSON.parse(r.stdout) as { diagnostics: { message: string; line: number }[] };
    expect(validators().plan(plan)).toBe(true);
    expect(plan.diagnostics).toEqual([{ severity: 'error', file: 'tend.yaml', line: 1, col: 13, message: 'apiVersion must be tend/v1' }]);
  });

  it('TEND_RELEASES_DIR and TEND_INSTANCES_DIR are read: a built release is reused', async () => {
    const root = scratchRoot();
    const releases = join(root, 'elsewhere-releases');
    mkdirSync(join(releases, 'v1.3.0'), { recursive: true });
    writeFileSync(join(releases, 'v1.3.0', 'manifest.json'), JSON.stringify({ version: 'v1.3.0', commit: 'a'.repeat(40), builtAt: '2026-01-01T00:00:00Z', artifacts: [] }));
    const env = { ...process.env, TEND_RELEASES_DIR: releases, TEND_INSTANCES_DIR: join(root, 'elsewhere-instances') };
    const r = await tend(['reconcile', '--dry-run', '-C', root, '--observed', SNAPSHOT], { env });
    expect(r.stdout).toContain('release: reuse v1.3.0 (source not checked)');
    expect(r.stdout).not.toContain('build/v1.3.0');
  });

  it('refuses to apply a plan made against a snapshot of another host (--observed without --dry-run)', async () => {
    const r = await tend(['reconcile', '-C', 'examples', '--observed', SNAPSHOT]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--observed plans against a snapshot of another host; it only works with --dry-run');
  });
});

describe('--help and --version', () => {
  it('every command has a help text that names its options and exit codes', async () => {
    const main = await tend(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toContain('-C, --dir <dir>');
    expect(main.stdout).toContain('TEND_DESIRED_DIR');
    const validate = await tend(['validate', '--help']);
    expect(validate.stdout).toContain('--json');
    expect(validate.stdout).toContain('Exit codes: 0 no errors');
    const reconcile = await tend(['reconcile', '--help']);
    for (const flag of ['--dry-run', '--json', '--detailed-exitcode', '--prune', '--force', '--observed <file>']) {
      expect(reconcile.stdout).toContain(flag);
    }
  });

  it("--version prints tend's own version", async () => {
    const r = await tend(['--version']);
    expect(r.stdout).toBe(`${JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version}\n`);
  });
});

describe('lazy subcommands (only the named command module is loaded)', () => {
  it('the table of command modules names exactly the commands the full program has', async () => {
    const { buildProgram, COMMAND_MODULES } = await import('../src/cli/program.js');
    const all = (await buildProgram()).commands.map((c) => c.name()).sort();
    expect(COMMAND_MODULES.flatMap((m) => m.names).sort()).toEqual(all);
    for (const m of COMMAND_MODULES) {
      const one = await buildProgram([m.names[0]!]);
      expect(one.commands.map((c) => c.name()).sort()).toEqual([...m.names].sort());
    }
  });

  it('commandOf skips -C DIR and finds the subcommand; tend --version and unknown commands still work', async () => {
    const { commandOf } = await import('../src/cli/program.js');
    expect(commandOf(['-C', 'ops', 'reconcile', '--dry-run'])).toBe('reconcile');
    expect(commandOf(['--dir', 'status', 'status'])).toBe('status');
    expect(commandOf(['--version'])).toBeUndefined();
    const v = await tend(['--version']);
    expect(v).toMatchObject({ code: 0, stdout: `${JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version}\n` });
    const unknown = await tend(['reconcil']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Did you mean reconcile\?/);
    const help = await tend(['--help']);
    for (const name of ['reconcile', 'agent', 'create', 'logs']) expect(help.stdout).toContain(`  ${name}`);
  });
});
