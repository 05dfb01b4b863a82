// The agent's status server against DNS rebinding, on a real `tend agent` process: only a Host that is the
// bound address or a loopback name (with the port) is answered; a non-loopback bind warns at start what it
// exposes; a busy --listen port is one line on stderr and exit 1, no stack trace anywhere.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, until, type AgentProc } from '../helpers/agent-proc.js';
import { buildOnce, tend } from '../helpers/cli.js';
import { useScratch } from '../helpers/scratch.js';

const scratch = useScratch();
const app = `hh${process.pid}${randomBytes(3).toString('hex')}`;
const EXPOSURE = /instance names, versions, phases, messages and metrics/;

/** GET `path` from the agent at `url` with the Host header set to `host` (undefined: no Host header at all). */
function get(url: string, path: string, host: string | undefined): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  if (host === undefined || host === '') return raw(u, path, host);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path, headers: { host }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** An HTTP/1.0 request with an empty Host line or none (node:http fills in one of its own). */
function raw(u: URL, path: string, host: '' | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const head = `GET ${path} HTTP/1.0\r\n${host === '' ? 'Host: \r\n' : ''}\r\n`;
    const sock = connect(Number(u.port), u.hostname.replace(/^\[|\]$/g, ''), () => sock.end(head));
    let text = '';
    sock.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('error', reject).on('end', () => {
      const [status = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.\d (\d{3})/.exec(status)?.[1] ?? 0), body });
    });
  });
}

/** The first non-internal IPv4 address of this host (the status server can bind it). */
function outsideAddress(): string | undefined {
  return Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

let root: string;
const agents: AgentProc[] = [];

beforeAll(async () => {
  await buildOnce();
  root = scratch('server-host');
  mkdirSync(join(root, 'desired'));
  writeFileSync(join(root, 'tend.yaml'), [
    'apiVersion: tend/v1', `app: ${app}`, 'source:', '  run:', '    artifact: bin/app',
    'tmux:', `  socket: tend-${app}`, 'docker:', '  discovery:', '    enabled: false', '',
  ].join('\n'));
}, 120_000);

afterAll(async () => {
  for (const a of agents) await a.stop('SIGKILL').catch(() => undefined);
});

async function agentOn(listen: string): Promise<AgentProc> {
  const a = await startAgent(root, {}, ['--listen', listen]);
  agents.push(a);
  // SIGTERM is handled once the first resync is done (the status server listens before it).
  await until('the first resync', () => a.lines.some((l) => l.msg.startsWith('resync (')), 60_000);
  await new Promise((r) => setTimeout(r, 300));
  return a;
}

async function stopped(a: AgentProc): Promise<void> {
  expect((await a.stop('SIGTERM')).code).toBe(0);
  agents.splice(agents.indexOf(a), 1);
}

describe('status server: Host header (DNS rebinding)', () => {
  it('on 127.0.0.1 answers the bound address and loopback names with the port, refuses every other Host with 421', async () => {
    const agent = await agentOn('127.0.0.1:0');
    try {
      const port = new URL(agent.url).port;
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`]) {
        for (const path of ['/status', '/metrics', '/', '/healthz']) {
          expect((await get(agent.url, path, host)).status, `${host} ${path}`).toBe(200);
        }
      }
      const rebound = [
        `evil.example:${port}`, 'evil.example', `localhost.evil.example:${port}`, `127.0.0.1.nip.io:${port}`,
        `127.0.0.1:${Number(port) + 1}`, '127.0.0.1', 'localhost', `${app}:${port}`, '',
      ];
      for (const host of rebound) {
        for (const path of ['/status', '/metrics', '/']) {
          const r = await get(agent.url, path, host);
          expect(r.status, `Host '${host}' ${path}`).toBe(421);
          expect(r.body).toMatch(/^misdirected request: /);
          expect(r.body.length).toBeLessThan(200);
          expect(r.body).not.toContain('instances');
          expect(r.body).not.toContain('tend_');
        }
      }
      expect((await get(agent.url, '/status', undefined)).status).toBe(421);
      // A loopback bind warns of nothing.
      expect(agent.lines.filter((l) => EXPOSURE.test(l.msg))).toEqual([]);
    } finally {
      await stopped(agent);
    }
  }, 120_000);

  const outside = outsideAddress();
  it.skipIf(!outside)(`on a non-loopback address (${outside}) warns at start what it exposes, and still checks Host`, async () => {
    const agent = await agentOn(`${outside}:0`);
    try {
      const port = new URL(agent.url).port;
      const warned = agent.lines.filter((l) => EXPOSURE.test(l.msg));
      expect(warned).toHaveLength(1);
      expect(warned[0]!.level).toBe(40);
      expect(warned[0]!.msg).toContain(`${outside}:${port}`);
      expect(warned[0]!.msg).toMatch(/no secrets/);
      expect((await get(agent.url, '/status', `${outside}:${port}`)).status).toBe(200);
      expect((await get(agent.url, '/status', `evil.example:${port}`)).status).toBe(421);
    } finally {
      await stopped(agent);
    }
  }, 120_000);

  it.skipIf(!outside)('on 0.0.0.0 (every interface) warns, answers this host\'s own addresses and loopback names, refuses names', async () => {
    const agent = await agentOn('0.0.0.0:0');
    try {
      const port = new URL(agent.url).port;
      expect(agent.lines.filter((l) => EXPOSURE.test(l.msg))).toHaveLength(1);
      for (const host of [`${outside}:${port}`, `127.0.0.1:${port}`, `localhost:${port}`, `0.0.0.0:${port}`]) {
        expect((await get(agent.url, '/status', host)).status, host).toBe(200);
      }
      for (const host of [`evil.example:${port}`, `203.0.113.9:${port}`]) {
        expect((await get(agent.url, '/status', host)).status, host).toBe(421);
      }
    } finally {
      await stopped(agent);
    }
  }, 120_000);
});

describe('status server: a busy --listen port', () => {
  let blocker: Server;
  let port: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('is one line on stderr and exit 1; no stack trace on stdout or stderr', async () => {
    const r = await tend(['-C', root, 'agent', '--listen', `127.0.0.1:${port}`, '--no-pretty'], { timeout: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: cannot listen on 127.0.0.1:${port}: address already in use (another tend agent?)\n`);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/stack|\n\s+at /);
    const logged = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logged.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([`cannot listen on 127.0.0.1:${port}: address already in use (another tend agent?)`]);
  }, 90_000);
});
