// The agent's logger on real files and real processes: JSON lines, instance children, redaction by key and by value, pretty on a TTY.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { createAgentLogger, execLog, instanceLogger, readSecretValues, REDACTED, scrubLine } from '../src/agent/logger.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const REPO = fileURLToPath(new URL('../', import.meta.url));
const VITE_NODE = join(REPO, 'node_modules', '.bin', 'vite-node');

const API_KEY = 'fk-9f8e7d6c5b4a';
const DB_PASSWORD = 'pa"ss\\word-42';

/** An instances folder with two real .env files (one value too short to scrub). */
function instancesWithEnv(): string {
  const dir = scratch('instances');
  mkdirSync(join(dir, 'web'), { recursive: true });
  mkdirSync(join(dir, 'api'), { recursive: true });
  mkdirSync(join(dir, 'empty'), { recursive: true });
  writeFileSync(join(dir, 'web', '.env'), `# secrets\nFACTORY_API_KEY=${API_KEY}\nexport SHORT=abc\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'api', '.env'), `DB_PASSWORD='${DB_PASSWORD}'\nFACTORY_API_KEY="${API_KEY}"\n`, { mode: 0o600 });
  return dir;
}

function jsonLines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('readSecretValues', () => {
  it('reads every instance .env with the repo parser, deduplicated, without values under 4 characters', () => {
    const dir = instancesWithEnv();
    expect(readSecretValues(dir).sort()).toEqual([API_KEY, DB_PASSWORD].sort());
    expect(readSecretValues(join(dir, 'missing'))).toEqual([]);
  });
});

describe('createAgentLogger to a file', () => {
  it('writes JSON lines; a child logger carries the instance; execLog reaches pino with level and fields', () => {
    const file = join(scratch('log'), 'sub', 'agent.log');
    const log = createAgentLogger({ destination: file, level: 'debug' });
    log.info({ count: 2 }, 'agent started');
    instanceLogger(log, 'web').warn({ phase: 'Degraded' }, 'health check failed');
    const exec = execLog(instanceLogger(log, 'api'));
    exec('info', 'building v1.2.0', { action: 'build:v1.2.0' });
    exec('error', 'start failed');
    log.debug('details');
    const lines = jsonLines(file);
    expect(lines.map((l) => [l.level, l.msg, l.instance])).toEqual([
      [30, 'agent started', undefined],
      [40, 'health check failed', 'web'],
      [30, 'building v1.2.0', 'api'],
      [50, 'start failed', 'api'],
      [20, 'details', undefined],
    ]);
    expect(lines[0]).toMatchObject({ count: 2, pid: process.pid });
    expect(lines[1]).toMatchObject({ phase: 'Degraded' });
    expect(lines[2]).toMatchObject({ action: 'build:v1.2.0' });
    expect(Number.isNaN(Date.parse(String(lines[0]!.time)))).toBe(false);
    // The executor's per-action debug lines are asked for only when the logger's level lets them through.
    expect(exec.debug).toBe(true);
    expect(execLog(createAgentLogger({ destination: join(scratch('log'), 'info.log') })).debug).toBe(false);
  });

  it('redacts keys that are secret by name, at the top level and nested', () => {
    const file = join(scratch('log'), 'agent.log');
    const log = createAgentLogger({ destination: file });
    log.info({ password: 'hunter22', env: { FACTORY_API_KEY: 'x', PORT: '8080' }, request: { token: 'tok', headers: { authorization: 'Bearer b' } }, cfg: { apiKey: 'k' }, port: 8080 }, 'configured');
    const [line] = jsonLines(file);
    expect(line).toMatchObject({
      password: REDACTED, env: REDACTED, cfg: { apiKey: REDACTED }, port: 8080,
      request: { token: REDACTED, headers: { authorization: REDACTED } }, msg: 'configured',
    });
    const text = readFileSync(file, 'utf8');
    for (const v of ['hunter22', 'Bearer b', 'tok"']) expect(text).not.toContain(v);
  });

  it('replaces every string holding a known secret value: message, nested fields, arrays, errors, child bindings', () => {
    const instances = instancesWithEnv();
    const file = join(scratch('log'), 'agent.log');
    const log = createAgentLogger({ destination: file, secrets: () => readSecretValues(instances) });
    log.info(`calling factory with ${API_KEY}`);
    log.info({ cmd: ['run', `--key=${API_KEY}`, 'ok'], deep: { a: { url: `postgres://u:${DB_PASSWORD}@db/x` }, kept: 'plain' }, short: 'abc' }, 'started');
    log.error(new Error(`login failed for ${DB_PASSWORD}`), 'apply failed');
    instanceLogger(log, 'web').child({ note: `key ${API_KEY}` }).warn('from a child');
    const lines = jsonLines(file);
    expect(lines[0]!.msg).toBe(REDACTED);
    expect(lines[1]).toMatchObject({ msg: 'started', cmd: ['run', REDACTED, 'ok'], deep: { a: { url: REDACTED }, kept: 'plain' }, short: 'abc', level: 30 });
    expect(lines[2]).toMatchObject({ msg: 'apply failed', level: 50, err: { type: 'Error', message: REDACTED, stack: REDACTED } });
    expect(lines[3]).toMatchObject({ msg: 'from a child', instance: 'web', note: REDACTED });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(JSON.stringify(DB_PASSWORD).slice(1, -1));
    expect(text).not.toContain('pa"ss');
  });

  it('picks up a secret added to a .env after the logger was made', () => {
    const instances = instancesWithEnv();
    const file = join(scratch('log'), 'agent.log');
    let cached = readSecretValues(instances);
    const log = createAgentLogger({ destination: file, secrets: () => cached });
    log.info('token is new-secret-value');
    writeFileSync(join(instances, 'web', '.env'), 'NEW=new-secret-value\n');
    cached = readSecretValues(instances);
    log.info('token is new-secret-value');
    expect(jsonLines(file).map((l) => l.msg)).toEqual(['token is new-secret-value', REDACTED]);
  });

  it('keeps the last known secrets when the callback throws', () => {
    const file = join(scratch('log'), 'agent.log');
    let fail = false;
    const log = createAgentLogger({ destination: file, secrets: () => { if (fail) throw new Error('EACCES'); return [API_KEY]; } });
    log.info(`one ${API_KEY}`);
    fail = true;
    log.info(`two ${API_KEY}`);
    expect(jsonLines(file).map((l) => l.msg)).toEqual([REDACTED, REDACTED]);
  });

  it('pretty mode writes readable text, still redacted', () => {
    const file = join(scratch('log'), 'agent.log');
    const log = createAgentLogger({ destination: file, pretty: true, secrets: () => [API_KEY] });
    instanceLogger(log, 'web').info({ version: 'v1.2.0' }, 'web is healthy');
    log.warn({ password: 'hunter22' }, `key ${API_KEY}`);
    const text = readFileSync(file, 'utf8');
    expect(() => JSON.parse(text.split('\n')[0]!)).toThrow();
    expect(text).toMatch(/INFO.*\[web\] web is healthy/);
    expect(text).toMatch(/version: "v1\.2\.0"/);
    expect(text).toMatch(/WARN.*\[redacted\]/);
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain('hunter22');
    expect(text).not.toContain('\u001b['); // a file is not a TTY: no colours
  });
});

describe('scrubLine', () => {
  it('leaves lines without secrets byte for byte and ignores short values', () => {
    const line = '{"level":30,"time":"2026-01-01T00:00:00.000Z","msg":"abc is fine"}\n';
    expect(scrubLine(line, ['abc', 'zzzzzz'])).toBe(line);
    expect(JSON.parse(scrubLine(line, ['is fine']))).toEqual({ level: 30, time: '2026-01-01T00:00:00.000Z', msg: REDACTED });
  });
});

describe('a real agent process', () => {
  /** A child that logs through createAgentLogger with every default (stdout, pretty when stdout is a TTY). */
  function childScript(): string {
    const dir = scratch('child');
    const script = join(dir, 'child.ts');
    const mod = pathToFileURL(join(REPO, 'src', 'agent', 'logger.ts')).href;
    writeFileSync(script, [
      `import { createAgentLogger, instanceLogger } from ${JSON.stringify(mod)};`,
      `const log = createAgentLogger({ secrets: () => ['sk-live-123456'] });`,
      `instanceLogger(log, 'web').info({ version: 'v2.0.0' }, 'started with sk-live-123456');`,
      `log.info('agent ready');`,
    ].join('\n'));
    return script;
  }

  it('writes JSON lines when stdout is a pipe', async () => {
    const r = await execa(VITE_NODE, [childScript()], { cwd: REPO });
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.instance, l.msg])).toEqual([['web', REDACTED], [undefined, 'agent ready']]);
    expect(lines[0]).toMatchObject({ version: 'v2.0.0', level: 30 });
    expect(r.stdout).not.toContain('sk-live-123456');
  });

  it('writes readable text when stdout is a terminal (run under script(1) for a real pty)', async () => {
    const cmd = [VITE_NODE, childScript()].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const r = await execa('script', ['-qec', cmd, '/dev/null'], { cwd: REPO });
    expect(r.stdout).toContain('\u001b['); // a terminal gets colours
    // eslint-disable-next-line no-control-regex
    const text = r.stdout.replace(/\u001b\[[0-9;]*m/g, '');
    expect(text).toMatch(/INFO.*\[web\] \[redacted\]/);
    expect(text).toMatch(/INFO.*agent ready/);
    expect(text).not.toContain('{"level"');
    expect(text).not.toContain('sk-live-123456');
  });
});
