// The run's settings (scale from env and flags), the repository paths, scratch folders and the cleanup stack.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Scale {
  quick: boolean;
  /** Timed repetitions per figure (the final run uses at least 5). */
  reps: number;
  plannerSizes: number[];
  /** Converged instances for `reconcile --dry-run`, split evenly over Docker, tmux and systemd. */
  dryRunSizes: number[];
  /** Containers in the docker-compose comparison. */
  composeCount: number;
  /** tend.yaml agent.concurrency for the compose comparison (undefined: tend's default). */
  tendConcurrency: number | undefined;
  /** Timed saves of a desired file in agent-latency (the figure is the median of 20). */
  agentSaves: number;
  /** Converged instances (split over Docker, tmux and systemd) under the idle agent in agent-rest. */
  agentRestCount: number;
  /** agent-rest's measuring window in seconds. */
  agentRestSeconds: number;
  /** Instance counts for agent-resync. */
  agentResyncSizes: number[];
  /** Scheduled no-op resyncs timed per size in agent-resync (after the one at start). */
  agentResyncs: number;
}

export interface BenchContext {
  scale: Scale;
  /** The repository root (holds package.json and dist/). */
  repo: string;
  /** `dist/cli/main.js`. */
  cli: string;
  /** A fresh folder under the system temp dir, removed by the cleanup stack. */
  scratch(prefix: string): string;
  cleanups: Cleanups;
  log(message: string): void;
}

/** Folder of this module's repository: the nearest parent holding a package.json named tend. */
export function findRepo(start = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tend') return dir;
    if (dirname(dir) === dir) throw new Error(`no tend package.json above ${start}`);
  }
}

const list = (v: string | undefined): number[] | undefined =>
  v ? v.split(',').map((x) => Number(x.trim())).filter((x) => Number.isInteger(x) && x > 0) : undefined;
const int = (v: string | undefined): number | undefined => (v && /^\d+$/.test(v) ? Number(v) : undefined);

/**
 * Scale from env (BENCH_QUICK, BENCH_REPS, BENCH_PLANNER_SIZES, BENCH_DRYRUN_SIZES, BENCH_COMPOSE_COUNT, BENCH_TEND_CONCURRENCY,
 * BENCH_AGENT_SAVES, BENCH_AGENT_REST_COUNT, BENCH_AGENT_REST_SECONDS, BENCH_AGENT_RESYNC_SIZES, BENCH_AGENT_RESYNCS).
 */
export function scaleFrom(env: NodeJS.ProcessEnv, quickFlag: boolean, repsFlag?: number): Scale {
  const quick = quickFlag || (env.BENCH_QUICK !== undefined && env.BENCH_QUICK !== '' && env.BENCH_QUICK !== '0');
  return {
    quick,
    reps: repsFlag ?? int(env.BENCH_REPS) ?? (quick ? 3 : 5),
    plannerSizes: list(env.BENCH_PLANNER_SIZES) ?? (quick ? [100, 1000] : [100, 1000, 10000]),
    dryRunSizes: list(env.BENCH_DRYRUN_SIZES) ?? (quick ? [6, 15] : [15, 60]),
    composeCount: int(env.BENCH_COMPOSE_COUNT) ?? (quick ? 6 : 30),
    tendConcurrency: int(env.BENCH_TEND_CONCURRENCY),
    agentSaves: int(env.BENCH_AGENT_SAVES) || (quick ? 5 : 20),
    agentRestCount: int(env.BENCH_AGENT_REST_COUNT) || (quick ? 15 : 60),
    agentRestSeconds: int(env.BENCH_AGENT_REST_SECONDS) || (quick ? 10 : 60),
    agentResyncSizes: list(env.BENCH_AGENT_RESYNC_SIZES) ?? (quick ? [6, 15] : [15, 60]),
    agentResyncs: Math.max(5, int(env.BENCH_AGENT_RESYNCS) ?? (quick ? 5 : 10)),
  };
}

/** Undo steps run newest first, each once, errors logged and swallowed; also run on SIGINT/SIGTERM. */
export class Cleanups {
  private steps: { label: string; fn: () => Promise<void> | void }[] = [];

  constructor(private readonly log: (m: string) => void) {}

  /** Registers an undo step; returns a function that runs it now (and unregisters it). */
  add(label: string, fn: () => Promise<void> | void): () => Promise<void> {
    const step = { label, fn };
    this.steps.push(step);
    return async () => {
      const i = this.steps.indexOf(step);
      if (i < 0) return;
      this.steps.splice(i, 1);
      await this.runStep(step);
    };
  }

  async runAll(): Promise<void> {
    while (this.steps.length > 0) await this.runStep(this.steps.pop()!);
  }

  private async runStep(step: { label: string; fn: () => Promise<void> | void }) {
    try {
      await step.fn();
    } catch (e) {
      this.log(`cleanup ${step.label} failed: ${(e as Error).message}`);
    }
  }
}

export function makeContext(scale: Scale, log: (m: string) => void): BenchContext {
  const repo = findRepo();
  const cleanups = new Cleanups(log);
  return {
    scale,
    repo,
    cli: join(repo, 'dist', 'cli', 'main.js'),
    cleanups,
    log,
    scratch(prefix) {
      const dir = mkdtempSync(join(tmpdir(), `tend-bench-${prefix}-`));
      cleanups.add(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
  };
}
