// The agent's work queue: one entry per instance, bursts collapse, at most `concurrency` instances at once, in-flight work cancellable.
import PQueue from 'p-queue';

export type Work = (name: string, signal: AbortSignal) => Promise<void>;

interface Entry {
  /** Another run is wanted (queued, or after the one in flight). */
  pending: boolean;
  /** The run in flight. */
  running?: AbortController;
  /** Earliest time the next run may start (epoch ms), for backoff. */
  notBefore?: number;
  timer?: NodeJS.Timeout;
}

export interface EnqueueOptions {
  /** Abort the run in flight (a newer desired file makes its work moot). */
  cancel?: boolean;
  /** Do not start before this time (epoch ms). */
  notBefore?: number;
}

/**
 * Level-triggered: `enqueue(name)` only says "look at this instance again". Ten calls while a run
 * is queued or in flight add one more run at most.
 */
export class WorkQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: PQueue;
  private closed = false;

  constructor(private readonly work: Work, concurrency: number) {
    this.queue = new PQueue({ concurrency: Math.max(1, concurrency) });
  }

  enqueue(name: string, opts: EnqueueOptions = {}): void {
    if (this.closed) return;
    const e = this.entries.get(name) ?? { pending: false };
    this.entries.set(name, e);
    if (opts.cancel && e.running && !e.running.signal.aborted) {
      e.running.abort(new Error(`${name}: its desired file changed; planning again`));
    }
    if (opts.notBefore !== undefined && opts.notBefore > Date.now()) {
      e.notBefore = Math.max(e.notBefore ?? 0, opts.notBefore);
    }
    if (e.pending) return;
    e.pending = true;
    if (!e.running) this.schedule(name, e);
  }

  private schedule(name: string, e: Entry): void {
    const wait = (e.notBefore ?? 0) - Date.now();
    if (wait > 0) {
      clearTimeout(e.timer);
      e.timer = setTimeout(() => this.schedule(name, e), wait);
      e.timer.unref?.();
      return;
    }
    e.timer = undefined;
    e.notBefore = undefined;
    void this.queue.add(async () => {
      if (this.closed) return;
      e.pending = false;
      const controller = new AbortController();
      e.running = controller;
      try {
        await this.work(name, controller.signal);
      } finally {
        e.running = undefined;
        if (e.pending && !this.closed) this.schedule(name, e);
        else if (!e.pending) this.entries.delete(name);
      }
    });
  }

  /** Instances waiting or in flight. */
  depth(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.pending || e.running) n++;
    return n;
  }

  /** Names with a run in flight. */
  inFlight(): string[] {
    return [...this.entries].filter(([, e]) => e.running).map(([n]) => n);
  }

  /** Take no more work; queued runs are dropped. `abort` also cancels the runs in flight. Resolves when none is left. */
  async close(abort: boolean, reason?: Error): Promise<void> {
    this.closed = true;
    for (const e of this.entries.values()) {
      clearTimeout(e.timer);
      e.pending = false;
      if (abort) e.running?.abort(reason ?? new Error('the agent is stopping'));
    }
    this.queue.clear();
    await this.queue.onIdle();
  }

  /** Abort everything in flight now (after close(false) ran out of time). */
  abortAll(reason: Error): void {
    for (const e of this.entries.values()) e.running?.abort(reason);
  }
}
