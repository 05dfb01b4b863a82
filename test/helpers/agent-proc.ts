// Runs `tend agent` as a real process for tests: its JSON log lines, its status URL, a bounded stop.
import { execa, type ResultPromise } from 'execa';
import { CLI, REPO } from './cli.js';

export interface LogLine {
  level: number;
  msg: string;
  instance?: string;
  [key: string]: unknown;
}

export interface AgentProc {
  /** `http://127.0.0.1:PORT` of the status server. */
  url: string;
  pid: number;
  lines: LogLine[];
  /** What it wrote to stderr so far (TEND_FAULT notes). */
  stderr(): string;
  /** Lines logged since `mark` (an index into lines). */
  since(mark: number): LogLine[];
  /** Sends `signal` and waits for the exit: its code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | undefined; ms: number }>;
  /** Resolves when the process has exited (code). */
  exited: Promise<number | undefined>;
  status(): Promise<AgentStatusDoc>;
  row(name: string): Promise<AgentStatusRow | undefined>;
}

export interface AgentStatusRow {
  name: string;
  phase: string;
  observedVersion?: string | null;
  desiredVersion?: string | null;
  message?: string | null;
  lastReconcile?: { result: string; message?: string } | null;
  [key: string]: unknown;
}

export interface AgentStatusDoc {
  agent: { warnings: string[]; queueDepth: number; [key: string]: unknown };
  instances: AgentStatusRow[];
}

/** Polls `fn` until it returns something other than undefined/false, or throws after `timeoutMs` naming `what`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 150): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Starts `tend -C root agent --listen 127.0.0.1:0 --no-pretty` and waits for its status URL. */
export async function startAgent(root: string, env: Record<string, string> = {}, args: string[] = []): Promise<AgentProc> {
  const proc: ResultPromise = execa('node', [CLI, '-C', root, 'agent', '--listen', '127.0.0.1:0', '--no-pretty', ...args], {
    cwd: REPO, reject: false, stdin: 'ignore', buffer: false, env: { ...env },
  });
  const lines: LogLine[] = [];
  let stderr = '';
  let partial = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        lines.push({ level: 30, msg: p });
      }
    }
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = proc.then((r) => r.exitCode);
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const url = await until('the agent status URL', () => {
    if (gone) throw new Error(`agent exited early: ${stderr}${lines.map((l) => l.msg).join('\n')}`);
    const l = lines.find((x) => typeof x.url === 'string');
    return l ? (l.url as string) : undefined;
  }, 60_000, 50);
  const status = async (): Promise<AgentStatusDoc> => {
    const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as AgentStatusDoc;
  };
  return {
    url, pid: proc.pid!, lines, exited,
    stderr: () => stderr,
    since: (mark) => lines.slice(mark),
    async stop(signal = 'SIGTERM') {
      const t0 = Date.now();
      if (!gone) proc.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - t0 };
    },
    status,
    row: async (name) => (await status()).instances.find((r) => r.name === name),
  };
}
