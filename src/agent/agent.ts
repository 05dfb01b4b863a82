// `tend agent`: watch desired files, resync on a schedule, reconcile one instance at a time per instance, serve status.
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DesiredState, HistoryEntry, Observed, Runtime } from '../model/types.js';
import { observeRuntimes } from '../observe/index.js';
import { parseDuration } from '../shared/duration.js';
import type { Lock } from '../fs/lock.js';
import { autoRuntime } from '../spec/auto-runtime.js';
import { CONFIG_FILE, loadConfig, type RootPaths } from '../spec/config.js';
import { loadDesired } from '../state/desired.js';
import { historyPath, readHistoryFile } from '../state/history.js';
import { rowsOf, type InstanceStatus } from '../status/index.js';
import { formatDiagnostic, formatProblem } from '../shared/diagnostic-text.js';
import { preview, reconcile, type ReconcileExit, type ReconcileResult } from '../executor/reconcile.js';
import { acquireAgentLock } from './agent-lock.js';
import { execLog } from './logger.js';
import { Schedules } from './schedules.js';
import type { AgentView, ReconcileRecord, ReconcileResultKind } from './types.js';
import { watchDesired, type DesiredWatcher } from './watch.js';
import { WorkQueue } from './work-queue.js';
import { errorMessage, isRetryable, TendError } from '../shared/errors.js';

export interface AgentOptions {
  cwd: string;
  /** `-C DIR`. */
  dir?: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/** Hooks the agent calls as work finishes (metrics). */
export interface AgentHooks {
  reconcileFinished?(name: string, durationMs: number, result: ReconcileResultKind): void;
  rollback?(name: string): void;
  buildFinished?(version: string, durationMs: number, ok: boolean): void;
  resyncFinished?(durationMs: number, changed: number): void;
}

const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 300_000;
/** A status request refreshes the runtimes' picture in the background when it is older than this. */
const OBSERVED_MAX_AGE_MS = 5_000;

export class Agent implements AgentView {
  root = '';
  app = '';
  readonly startedAt = new Date().toISOString();
  paths!: RootPaths;
  desired!: DesiredState;
  hooks: AgentHooks = {};
  private readonly log: Logger;
  private queue!: WorkQueue;
  private watcher?: DesiredWatcher;
  private lock?: Lock;
  private readonly schedules = new Schedules();
  private readonly records = new Map<string, ReconcileRecord>();
  private readonly failures = new Map<string, number>();
  private readonly problems = new Map<string, string>();
  private observed?: { at: number; value: Observed };
  private refreshing?: Promise<void>;
  private refreshAgain?: Promise<void>;
  private resyncing?: Promise<number>;
  private backendRetryMs = 0;
  private stopping = false;

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.logger;
    const first = this.load();
    if (!first) throw new TendError(this.problems.get('config') ?? `${CONFIG_FILE} could not be loaded`, { kind: 'user' });
  }

  /** tend.yaml and desired/, read again; undefined (and a warning) while tend.yaml is broken: the last good state stays. */
  load(): DesiredState | undefined {
    const loaded = loadConfig({ cwd: this.opts.cwd, dir: this.opts.dir, env: this.opts.env });
    if (!loaded.config) {
      const why = loaded.diagnostics.filter((d) => d.severity === 'error').map(formatProblem).join('; ');
      // No tend.yaml at all says so (with how to get one), not that an absent file is invalid.
      const missing = !existsSync(join(loaded.root, CONFIG_FILE));
      if (this.problems.get('config') !== why) {
        this.log.error({ diagnostics: loaded.diagnostics }, missing ? why : `${CONFIG_FILE} is not valid; nothing is changed until it is: ${why}`);
      }
      this.problems.set('config', missing ? why : `${CONFIG_FILE} is not valid: ${why}`);
      return undefined;
    }
    this.problems.delete('config');
    const desired = loadDesired({
      root: loaded.root, desiredDir: loaded.paths.desired, instancesDir: loaded.paths.instances, config: loaded.config,
      platform: process.platform, launchdWarn: false,
      autoRuntime: autoRuntime(loaded.config, { platform: process.platform, env: this.opts.env }),
    });
    this.root = loaded.root;
    this.app = loaded.config.app;
    this.paths = loaded.paths;
    this.desired = desired;
    return desired;
  }

  get config() {
    return this.desired.config;
  }

  /** Take the agent lock; no work starts yet. */
  acquire(): void {
    this.lock = acquireAgentLock(this.paths, (owner) =>
      this.log.warn({ owner }, `took over the agent lock of a process that is gone (pid ${owner?.pid ?? '?'})`));
  }

  /** Lock, first resync (recreates what a reboot lost), then watch files and run the schedules. */
  async start(): Promise<void> {
    if (!this.lock) this.acquire();
    this.queue = new WorkQueue((name, signal) => this.reconcileOne(name, signal), this.config.agent.concurrency);
    this.watcher = watchDesired({
      desiredDir: this.paths.desired,
      configFile: join(this.root, CONFIG_FILE),
      instancesDir: this.paths.instances,
      debounceMs: parseDuration(this.config.agent.debounce),
      onChange: (t) => {
        if (t.kind === 'all') {
          this.log.info(`${CONFIG_FILE} changed: resync`);
          void this.resync('config changed');
        } else if (t.kind === 'request') {
          this.log.info({ instance: t.name }, `${t.name}: a request was recorded (requests.json)`);
          this.queue.enqueue(t.name);
        } else {
          this.log.info({ instance: t.name }, `${t.name}: desired file changed`);
          this.queue.enqueue(t.name, { cancel: true });
        }
      },
      onError: (err) => this.log.error({ err }, `watching ${this.paths.desired} failed: ${err.message}`),
    });
    await this.watcher.ready;
    await this.resync('start');
    this.schedules.cron(this.config.agent.resync, () => void this.resync('schedule'));
  }

  /** One full reconcile, as `tend reconcile` does it (for `tend agent --once`). */
  async once(signal?: AbortSignal): Promise<ReconcileResult> {
    if (!this.lock) this.acquire();
    return reconcile(this.desired, this.paths, { updatedBy: 'agent', log: execLog(this.log), ...(signal ? { signal } : {}) });
  }

  /** Observe and plan everything; queue the instances that have work. Resolves to how many were queued. */
  resync(why: string): Promise<number> {
    if (this.stopping) return Promise.resolve(0);
    this.resyncing ??= this.doResync(why).finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  private async doResync(why: string): Promise<number> {
    const t0 = performance.now();
    const desired = this.load();
    if (!desired) return 0;
    let queued = 0;
    try {
      // Not kept for the status view: it lacks what status shows beyond a plan (Docker start times).
      const { observation: obs, plan: p } = await preview(desired, this.paths);
      this.noteBackends(desired, obs.observed);
      const byId = new Map(p.actions.map((a) => [a.id, a]));
      for (const ip of p.instances) {
        const actions = ip.actions.map((id) => byId.get(id)!).filter((a) => a.type !== 'orphan');
        // Work to do, or a status record the plan wants written (status says otherwise than the plan).
        if (actions.length === 0 && !ip.record?.done) continue;
        const notBefore = Math.min(...actions.map((a) => ('notBefore' in a && a.notBefore ? Date.parse(a.notBefore) : 0)));
        this.queue.enqueue(ip.name, Number.isFinite(notBefore) && notBefore > Date.now() ? { notBefore } : {});
        queued++;
      }
    } catch (err) {
      this.log.error({ err }, `resync failed: ${errorMessage(err)}`);
    }
    const ms = performance.now() - t0;
    this.hooks.resyncFinished?.(ms, queued);
    this.log.info({ why, ms: Math.round(ms), queued }, `resync (${why}): ${queued} instance(s) queued in ${Math.round(ms)} ms`);
    return queued;
  }

  /** A runtime that desired instances use and that cannot be observed: warn, and resync again with backoff until it answers. */
  private noteBackends(desired: DesiredState, observed: Observed): void {
    const used = new Set(desired.entries.flatMap((e) => (e.status === 'valid' ? [e.runtime] : [])));
    let down = false;
    for (const [rt, o] of Object.entries(observed.runtimes) as [Runtime, Observed['runtimes'][Runtime]][]) {
      const key = `backend:${rt}`;
      if (used.has(rt) && o?.status === 'unavailable') {
        down = true;
        if (!this.problems.has(key)) this.log.error({ runtime: rt }, `${rt} is not available (${o.reason}); its instances are Unknown until it is back`);
        this.problems.set(key, `${rt} is not available: ${o.reason}`);
      } else if (this.problems.delete(key)) {
        this.log.info({ runtime: rt }, `${rt} is back`);
      }
    }
    if (!down) {
      this.backendRetryMs = 0;
      this.schedules.clearTimer('backend-retry');
      return;
    }
    if (this.stopping) return; // no new timer may keep a stopping agent's process alive
    this.backendRetryMs = Math.min(60_000, this.backendRetryMs ? this.backendRetryMs * 2 : 1_000);
    this.schedules.timer('backend-retry', this.backendRetryMs, () => void this.resync('backend retry'));
  }

  private async reconcileOne(name: string, signal: AbortSignal): Promise<void> {
    const t0 = performance.now();
    const log = this.log.child({ instance: name });
    let result: ReconcileResultKind = 'ok';
    let why: string | undefined;
    let retry = false;
    /** The desired file does not validate: logged at warn, naming the file and its diagnostics. */
    let invalid: string | undefined;
    let done: { change: string; reason?: string; actions: string[] } | undefined;
    const desired = this.load();
    try {
      // Terminal: an edit of tend.yaml resyncs everything (the watcher), so waiting on a timer adds nothing.
      if (!desired) throw new TendError(this.problems.get('config') ?? `${CONFIG_FILE} is not valid`, { kind: 'user' });
      const r = await reconcile(desired, this.paths, {
        only: new Set([name]), signal, log: execLog(log), updatedBy: 'agent',
        onBuild: (version, ms, ok) => this.hooks.buildFinished?.(version, ms, ok),
      });
      const out = r.outcomes.find((o) => o.name === name);
      const last = r.final.find((ip) => ip.name === name);
      const o = r.outcomes.find((x) => x.name === name && x.done.length > 0);
      if (o) {
        const ip = o.plan ?? r.plans.at(-1)!.instances.find((x) => x.name === name);
        // The fields that changed name what caused a restart (names only: a value may be a secret).
        const fields = ip?.fields.map((f) => f.field) ?? [];
        const reason = [ip?.reason, fields.length > 0 ? `changed: ${fields.join(', ')}` : undefined].filter((x) => x).join('; ');
        done = { change: o.plan?.change ?? o.change, ...(reason ? { reason } : {}), actions: o.done };
      }
      if (out?.result === 'ok' && out.change === 'rollback') this.hooks.rollback?.(name);
      if (out?.result === 'unhealthy' && r.exitCode === 3) {
        // Held without a rollback (rollout.autoRollback off): converged as far as tend goes.
        result = 'held';
        why = out.reason;
      } else if (out && out.result !== 'ok') {
        result = 'failed';
        why = out.reason;
        retry = out.result === 'failed' && last?.change !== 'rollback';
      } else if (last?.change === 'invalid' || last?.change === 'blocked') {
        result = 'failed';
        // The diagnostics themselves (`desired/web.yaml:3:1: error: unknown key prot`), not only `desired/web.yaml has errors`.
        const diags = r.plans[0]!.diagnostics.filter((d) => d.instance === name && d.severity === 'error').map(formatDiagnostic).join('; ');
        why = [last.reason, diags].filter((x) => x).join(': ') || undefined;
      } else if (r.exitCode === 3) {
        result = 'held';
        why = last?.reason;
      } else if (r.exitCode === 1) {
        result = 'failed';
        why = r.plans[0]!.diagnostics.filter((d) => d.severity === 'error' && d.instance === name).map(formatDiagnostic).join('; ') || undefined;
      }
      // Also when restoring the last healthy spec failed: the file is what the operator has to fix.
      const entry = desired.entries.find((e) => e.name === name);
      if (entry?.status === 'invalid') invalid = `${entry.file} is invalid (${entry.diagnostics.map(formatDiagnostic).join('; ') || 'no diagnostics'})${why ? `: ${why}` : ''}`;
    } catch (err) {
      if (signal.aborted) {
        result = 'cancelled';
        why = errorMessage(signal.reason);
        log.info(`${name}: work abandoned: ${why}`);
      } else {
        result = 'error';
        why = errorMessage(err);
        retry = isRetryable(err);
        log.error({ err }, `${name}: reconcile failed: ${why}`);
      }
    }
    // The status view should show what this run left behind, not the picture from before it.
    if (!this.stopping) await this.refreshObserved();
    const ms = performance.now() - t0;
    this.records.set(name, { at: new Date().toISOString(), durationMs: Math.round(ms), result, ...(why ? { message: why } : {}) });
    this.hooks.reconcileFinished?.(name, ms, result);
    // What was done and why (`update: version v1.0.0 -> v1.1.0`, `restart: process exited (status 1)`), at
    // warn when it did not converge; an invalid desired file is named with its diagnostics.
    const level = invalid || !(result === 'ok' || result === 'cancelled') ? 'warn' : 'info';
    const acted = done ? `: ${done.change}${done.reason ? ` (${done.reason})` : ''}: ${done.actions.join(', ')}` : '';
    // An invalid file comes first (what the operator has to fix), then what was done meanwhile (the restore).
    const text = invalid ? `${name}: reconcile ${result}: ${invalid}${acted}` : `${name}: reconcile ${result}${acted}${why ? `: ${why}` : ''}`;
    log[level]({ result, ms: Math.round(ms), ...(done ? { change: done.change, actions: done.actions } : {}) }, text);
    if (retry && !this.stopping) {
      const n = (this.failures.get(name) ?? 0) + 1;
      this.failures.set(name, n);
      const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (n - 1));
      log.warn(`${name}: retrying in ${Math.round(wait / 1000)} s`);
      this.queue.enqueue(name, { notBefore: Date.now() + wait });
    } else if (result !== 'cancelled') {
      this.failures.delete(name);
    }
  }

  /** Re-observe the runtimes for the status view: one at a time; a call during one runs one more after it. */
  refreshObserved(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain ??= this.refreshing.then(() => {
        this.refreshAgain = undefined;
        return this.refreshObserved();
      });
      return this.refreshAgain;
    }
    this.refreshing = (async () => {
      try {
        const value = await observeRuntimes({ config: this.config, paths: this.paths, startTimes: true });
        this.observed = { at: Date.now(), value };
        this.noteBackends(this.desired, value);
      } catch (err) {
        this.log.warn({ err }, `observing runtimes for status failed: ${errorMessage(err)}`);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  // AgentView ---------------------------------------------------------------------------------

  async instances(): Promise<InstanceStatus[]> {
    if (!this.observed) await this.refreshObserved();
    else if (Date.now() - this.observed.at > OBSERVED_MAX_AGE_MS) void this.refreshObserved();
    this.load();
    return rowsOf(this.desired, this.paths, this.observed!.value);
  }

  lastReconcile(name: string): ReconcileRecord | undefined {
    return this.records.get(name);
  }

  history(name: string, limit: number): HistoryEntry[] {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return [];
    return readHistoryFile(historyPath(this.paths.instances, name)).entries.slice(-limit).reverse();
  }

  queueDepth(): number {
    return this.queue?.depth() ?? 0;
  }

  warnings(): string[] {
    return [...this.problems.values()];
  }

  /** For `agent.git.pull` and other sources of change: look at these instances again. */
  enqueue(name: string, cancel = false): void {
    this.queue.enqueue(name, { cancel });
  }

  setProblem(key: string, text: string | undefined): void {
    if (text === undefined) this.problems.delete(key);
    else this.problems.set(key, text);
  }

  get schedule(): Schedules {
    return this.schedules;
  }

  /**
   * Stop taking work, abort what is in flight (builds and health waits stop at once; an action the
   * runtime is carrying out finishes), wait for it at most `boundMs`, release the lock.
   */
  async stop(boundMs = parseDuration(this.config.agent.shutdownTimeout)): Promise<'clean' | 'timeout'> {
    this.stopping = true;
    this.schedules.stopAll();
    await this.watcher?.close();
    let outcome: 'clean' | 'timeout' = 'clean';
    if (this.queue) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'timeout'>((res) => {
        timer = setTimeout(() => res('timeout'), boundMs);
      });
      outcome = await Promise.race([this.queue.close(true, new Error('the agent is stopping')).then(() => 'clean' as const), bound]);
      clearTimeout(timer);
    }
    await this.resyncing?.catch(() => undefined);
    this.lock?.release();
    return outcome;
  }
}

export type { ReconcileExit };
