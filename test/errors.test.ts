// tend's error hierarchy (src/shared/errors.ts): kind, retryable, cause, errorMessage on anything thrown,
// and the CLI's exit code and TEND_DEBUG stack for a user error and for a system error (real CLI runs).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AgentRunningError } from '../src/agent/agent-lock.js';
import { ListenError } from '../src/agent/host-check.js';
import { PromptCancelled } from '../src/cli/prompt.js';
import { NotCarriedOut } from '../src/drivers/dispatch.js';
import { HealthFailure } from '../src/executor/verify.js';
import { FileIoError } from '../src/fs/io-error.js';
import { UnsafeFileError } from '../src/fs/safe.js';
import { EnvLineError, formatEnvLine } from '../src/ops/env-file.js';
import { OpsError } from '../src/ops/guard.js';
import { BuildError } from '../src/release/build.js';
import { RunError } from '../src/release/run.js';
import { errnoCode, errorKind, errorMessage, exitCodeOf, isNotFound, isRetryable, TendError } from '../src/shared/errors.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

describe('TendError', () => {
  it('defaults to a retryable system error; a user error is terminal unless said otherwise', () => {
    const sys = new TendError('disk full');
    expect(sys).toBeInstanceOf(Error);
    expect([sys.kind, sys.retryable, sys.name, sys.message]).toEqual(['system', true, 'TendError', 'disk full']);
    const user = new TendError('bad port', { kind: 'user' });
    expect([user.kind, user.retryable]).toEqual(['user', false]);
    expect(new TendError('x', { kind: 'user', retryable: true }).retryable).toBe(true);
    expect(new TendError('x', { retryable: false }).retryable).toBe(false);
  });

  it('keeps the cause chain (standard Error.cause) through re-wrapping', () => {
    const root = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const mid = new TendError('cannot read instances/web/.env', { cause: root });
    const top = new OpsError('web was not created', 'failed', [], mid);
    expect(top.cause).toBe(mid);
    expect(mid.cause).toBe(root);
    const chain: unknown[] = [];
    for (let e: unknown = top; e instanceof Error; e = e.cause) chain.push(errorMessage(e));
    expect(chain).toEqual(['web was not created', 'cannot read instances/web/.env', 'EACCES: permission denied']);
    expect(new TendError('no cause')).not.toHaveProperty('cause');
  });

  it('the existing classes keep their names and gain a kind and retryable', () => {
    const io = new FileIoError('write', '/x/status.json', Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }));
    const cases: [TendError, string, 'user' | 'system', boolean][] = [
      [new OpsError('no instance web', 'not-found'), 'OpsError', 'user', false],
      [new OpsError('refused', 'refused'), 'OpsError', 'user', false],
      [new OpsError('journalctl exited 1', 'failed'), 'OpsError', 'system', true],
      [new EnvLineError('the value of K contains a line break'), 'EnvLineError', 'user', false],
      [new UnsafeFileError('/x/.env', 'a symbolic link'), 'UnsafeFileError', 'user', false],
      [new PromptCancelled(), 'PromptCancelled', 'user', false],
      [new AgentRunningError('/x/.agent.lock', undefined), 'AgentRunningError', 'user', false],
      [new ListenError('127.0.0.1:9464', 'EADDRINUSE', 'cannot listen'), 'ListenError', 'user', false],
      [io, 'FileIoError', 'system', true],
      [new HealthFailure('Health check timeout after 30s'), 'HealthFailure', 'system', false],
      [new RunError('build timed out', 'timeout'), 'RunError', 'system', true],
      [new RunError('build failed with exit code 2', 'exit', 2), 'RunError', 'system', false],
      [new BuildError('build of v1 failed', 'v1', 'exit', 2, []), 'BuildError', 'system', false],
      [new BuildError('build of v1 failed', 'v1', 'io', undefined, []), 'BuildError', 'system', true],
      [new NotCarriedOut('the tmux driver does not carry out x'), 'NotCarriedOut', 'system', false],
    ];
    for (const [err, name, kind, retryable] of cases) {
      expect(err, name).toBeInstanceOf(TendError);
      expect([err.name, err.kind, err.retryable], err.message).toEqual([name, kind, retryable]);
      expect(errorKind(err)).toBe(kind);
      expect(isRetryable(err)).toBe(retryable);
      expect(exitCodeOf(err)).toBe(1);
    }
    expect(io.code).toBe('ENOSPC');
    expect(new OpsError('x', 'invalid').code).toBe('invalid');
  });

  it('formatEnvLine throws EnvLineError (a user error naming the key, never the value)', () => {
    let thrown: unknown;
    try {
      formatEnvLine('API_KEY', 's3cr3t\nvalue');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(EnvLineError);
    expect(errorKind(thrown)).toBe('user');
    expect(errorMessage(thrown)).toContain('API_KEY');
    expect(errorMessage(thrown)).not.toContain('s3cr3t');
  });
});

describe('errorMessage and friends on anything thrown', () => {
  it('errorMessage: Errors, strings, objects with a message, and other values', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain text')).toBe('plain text');
    expect(errorMessage({ message: 'from an object' })).toBe('from an object');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
    expect(errorMessage(null)).toBe('null');
    expect(errorMessage({ code: 1 })).toBe('[object Object]');
  });

  it('an unclassified error is a retryable system error; errno helpers', () => {
    for (const e of [new Error('x'), 'text', undefined]) {
      expect(errorKind(e)).toBe('system');
      expect(isRetryable(e)).toBe(true);
      expect(exitCodeOf(e)).toBe(1);
    }
    const enoent = Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    const eacces = Object.assign(new Error('EACCES'), { code: 'EACCES' });
    expect([errnoCode(enoent), isNotFound(enoent)]).toEqual(['ENOENT', true]);
    expect([errnoCode(eacces), isNotFound(eacces)]).toEqual(['EACCES', false]);
    expect(errnoCode({ code: 'ENOENT' })).toBeUndefined();
  });
});

describe('exit codes via the CLI', () => {
  let root: string;
  beforeAll(async () => {
    await buildOnce();
    root = scratch(`err-${Math.random().toString(36).slice(2, 8)}`);
    const init = await tend(['-C', root, 'init', '--app', 'errx'], { stdin: 'ignore' });
    expect(init.code, init.stderr).toBe(0);
    writeFileSync(join(root, 'desired', 'web.yaml'), 'version: v1.0.0\nruntime: tmux\nport: 18937\n');
  }, 120_000);

  it('a user error (a .env value no line can hold): exit 1, its message, no stack even under TEND_DEBUG', async () => {
    const r = await tend(['-C', root, 'secret', 'set', 'web', 'K', 'a\nb', '--no-apply'], { stdin: 'ignore', env: { TEND_DEBUG: '1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: the value of K contains a line break or NUL, which a .env file cannot hold\n');
  });

  it('a system error (instances/web is a file, so .env cannot be written): exit 1, its message, the stack under TEND_DEBUG', async () => {
    mkdirSync(join(root, 'instances'), { recursive: true });
    writeFileSync(join(root, 'instances', 'web'), 'not a folder\n');
    try {
      const r = await tend(['-C', root, 'secret', 'set', 'web', 'K', 'v', '--no-apply'], { stdin: 'ignore', env: { TEND_DEBUG: '1' } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: EEXIST: file already exists, mkdir '.*instances\/web'\n/);
      expect(r.stderr).toMatch(/\n {4}at /); // the stack
      const quiet = await tend(['-C', root, 'secret', 'set', 'web', 'K', 'v', '--no-apply'], { stdin: 'ignore' });
      expect(quiet.code).toBe(1);
      expect(quiet.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    } finally {
      rmSync(join(root, 'instances', 'web'), { force: true });
    }
  });
});
