// `tend agent`: run the long-running reconciler (or one full reconcile with --once) until SIGTERM/SIGINT.
import type { Command } from 'commander';
import { AgentRunningError } from '../agent/agent-lock.js';
import { Agent } from '../agent/agent.js';
import { ListenError } from '../agent/host-check.js';
import { createAgentLogger, readSecretValues, type Logger } from '../agent/logger.js';
import { runAgent } from '../agent/run.js';
import { loadConfig } from '../spec/config.js';
import { registerAgentInstall } from './agent-install.js';
import type { GlobalOptions } from './load.js';
import { errorMessage } from '../shared/errors.js';

interface AgentCliOptions {
  once?: boolean;
  listen?: string;
  logLevel?: string;
  pretty?: boolean;
}

/** Secret values for the logger to scrub, re-read at most every 10 s. */
function secretsOf(instancesDir: () => string | undefined): () => string[] {
  let at = 0;
  let values: string[] = [];
  return () => {
    const dir = instancesDir();
    if (dir && Date.now() - at > 10_000) {
      values = readSecretValues(dir);
      at = Date.now();
    }
    return values;
  };
}

function logger(opts: AgentCliOptions, cwd: string, dir: string | undefined): Logger {
  const paths = loadConfig({ cwd, dir, env: process.env }).paths;
  return createAgentLogger({
    ...(opts.logLevel ? { level: opts.logLevel } : {}),
    ...(opts.pretty !== undefined ? { pretty: opts.pretty } : {}),
    secrets: secretsOf(() => paths.instances),
  });
}

async function runOnce(log: Logger, cwd: string, dir: string | undefined): Promise<number> {
  const agent = new Agent({ cwd, ...(dir !== undefined ? { dir } : {}), env: process.env, logger: log });
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGTERM', onSignal).once('SIGINT', onSignal);
  try {
    const r = await agent.once(controller.signal);
    log.info({ exitCode: r.exitCode, held: r.held, outcomes: r.outcomes }, `reconcile done: exit ${r.exitCode}${r.held.length ? `, held: ${r.held.join(', ')}` : ''}`);
    return r.exitCode;
  } finally {
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    await agent.stop(0);
  }
}

async function runForever(opts: AgentCliOptions, log: Logger, cwd: string, dir: string | undefined): Promise<number> {
  const running = await runAgent({ cwd, ...(dir !== undefined ? { dir } : {}), env: process.env, logger: log, ...(opts.listen ? { listen: opts.listen } : {}) });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn(`${sig} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      log.info(`${sig}: stopping (work in flight is aborted; at most ${running.agent.config.agent.shutdownTimeout})`);
      void running.stop().then((how) => {
        log.info(how === 'clean' ? 'agent stopped' : 'agent stopped; some work did not finish within the shutdown bound');
        resolve(0);
      });
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
}

export function registerAgent(program: Command): void {
  const agent = program
    .command('agent')
    .description('watch desired/ and tend.yaml, resync on a schedule, pull from git, serve status (until SIGTERM/SIGINT)')
    .option('--once', 'run one full reconcile and exit with its exit code (for cron and pipelines)')
    .option('--listen <host:port>', 'status server address (default: agent.listen, 127.0.0.1:9464; port 0 picks a free one)')
    .option('--log-level <level>', 'trace, debug, info, warn or error (default info)')
    .option('--pretty', 'readable log lines (default when stdout is a terminal; JSON lines otherwise)')
    .option('--no-pretty', 'JSON log lines even on a terminal')
    .addHelpText('after', [
      '',
      'Status: GET /healthz, /status (JSON), /metrics (Prometheus), / (page) on the listen address,',
      'answered only when the Host header is that address or localhost, 127.0.0.1, [::1] with the',
      'port (421 otherwise: no DNS rebinding). A non-loopback address is logged as a warning: the',
      'pages show instance names, versions, phases, messages and metrics (no secrets) to anyone.',
      'One agent per deployment root (lock: instances/.agent.lock). SIGTERM/SIGINT abort builds and',
      'health waits in flight and exit 0 within agent.shutdownTimeout (default 30s).',
      '',
      'Exit codes: 0 stopped by a signal; 1 could not start (another agent runs, tend.yaml invalid,',
      'the listen address is taken). With --once: those of tend reconcile (0, 1, 3).',
    ].join('\n'))
    .action(async (opts: AgentCliOptions, cmd: Command) => {
      const { dir } = cmd.optsWithGlobals<GlobalOptions>();
      const cwd = process.cwd();
      const log = logger(opts, cwd, dir);
      try {
        process.exitCode = opts.once ? await runOnce(log, cwd, dir) : await runForever(opts, log, cwd, dir);
      } catch (err) {
        const msg = errorMessage(err);
        // Another agent holding the root, or the listen address taken, is an expected refusal: one line, no stack.
        if (err instanceof AgentRunningError) log.error({ lock: err.path, owner: err.owner }, msg);
        else if (err instanceof ListenError) log.error({ listen: err.listen, code: err.code }, msg);
        // Off a terminal too: one line with the message; the stack only at debug level (--log-level debug).
        else {
          log.error(msg);
          log.debug({ err }, msg);
        }
        process.stderr.write(`error: ${msg}\n`);
        process.exitCode = 1;
      }
    });
  registerAgentInstall(agent);
}
