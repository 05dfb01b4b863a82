// systemd actions: write-unit, start, stop, restart, delete — idempotent, and only on owned units.
//
// One daemon-reload per batch: write-unit and delete only change files and note what systemd must
// pick up; the next start/restart (or the executor's flush() at the end of a batch) enables the
// written units in one `systemctl enable --no-reload` and reloads once, however many units changed.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeAction } from '../../model/plan.js';
import { parseDuration } from '../../shared/duration.js';
import { targetName } from '../../spec/names.js';
import { writeFileAtomic } from '../../fs/atomic.js';
import { prepareInstanceDir } from '../../state/layout.js';
import { launchSpec } from '../launch.js';
import { dispatch } from '../dispatch.js';
import type { ApplyContext, ObserveContext } from '../types.js';
import { systemctl, systemctlOrThrow, type SystemctlRun } from './command.js';
import { isOwned } from './observe.js';
import { logUnitsOf, readMarks, renderLogUnits, renderUnit, unitDirOf, wantedByOf } from './unit.js';

/** What systemd has not been told yet. Lives in the driver object, shared by its actions. */
export class PendingReload {
  readonly enable = new Set<string>();
  reload = false;
  private inFlight: Promise<void> | undefined;

  /** Enables written units (one call) and reloads once; concurrent callers share the work. */
  async flush(run: SystemctlRun): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (!this.reload && this.enable.size === 0) return;
    const units = [...this.enable].sort();
    const reload = this.reload;
    this.enable.clear();
    this.reload = false;
    this.inFlight = (async () => {
      try {
        if (units.length > 0) await systemctlOrThrow(['enable', '--no-reload', '--', ...units], run);
        if (reload) await systemctlOrThrow(['daemon-reload'], run);
      } catch (err) {
        // Not told after all: the next flush tries again.
        for (const u of units) this.enable.add(u);
        this.reload ||= reload;
        throw err;
      }
    })();
    try {
      await this.inFlight;
    } finally {
      this.inFlight = undefined;
    }
  }
}

function runOf(ctx: ObserveContext, extraMs = 0): SystemctlRun {
  const stopMs = parseDuration(ctx.config.systemd.stopTimeout);
  return { scope: ctx.config.systemd.scope, timeoutMs: Math.max(120_000, stopMs + 30_000) + extraMs, ...(ctx.signal ? { signal: ctx.signal } : {}) };
}

function unitOf(action: RuntimeAction, ctx: ApplyContext): string {
  if (action.target) return action.target;
  if (action.instance) return targetName('systemd', ctx.config, action.instance);
  throw new Error(`${action.type} ${action.id}: no unit named (no target or instance)`);
}

function checkName(unit: string): void {
  if (!/^[A-Za-z0-9:_.@-]+\.service$/.test(unit) || unit.startsWith('-')) throw new Error(`'${unit}' is not a service unit name tend writes`);
}

/** The unit file's text when it exists; throws when it exists and tend does not own it. */
function ownedUnit(unit: string, ctx: ApplyContext): { path: string; text: string | undefined } {
  checkName(unit);
  const path = join(unitDirOf(ctx.config.systemd.scope), unit);
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (text !== undefined && !isOwned(readMarks(text), ctx.config.app)) {
    throw new Error(`systemd unit ${path} exists and is not owned by tend (no X-Tend-App=${ctx.config.app}); not touching it`);
  }
  return { path, text };
}

async function writeUnit(action: RuntimeAction, ctx: ApplyContext, pending: PendingReload): Promise<void> {
  const unit = unitOf(action, ctx);
  const { path, text } = ownedUnit(unit, ctx);
  if (!ctx.spec) throw new Error(`write-unit ${unit} needs the instance's spec`);
  const launch = launchSpec(action, ctx);
  const rendered = renderUnit({ config: ctx.config, spec: ctx.spec, launch, specHash: action.specHash ?? '', unit });
  // WorkingDirectory= and ReadWritePaths= must exist before the unit starts, and the log directory for the output pipe.
  prepareInstanceDir(ctx.paths.instances, launch.instance);
  const wants = join(unitDirOf(ctx.config.systemd.scope), `${wantedByOf(ctx.config.systemd.scope)}.wants`, unit);
  if (!existsSync(wants)) pending.enable.add(unit);
  mkdirSync(unitDirOf(ctx.config.systemd.scope), { recursive: true });
  if (ctx.config.systemd.output === 'files') {
    // The output pipe and its stamper first: the unit requires them.
    const { socket, service } = renderLogUnits({ config: ctx.config, launch, unit });
    for (const f of [socket, service]) {
      const file = join(unitDirOf(ctx.config.systemd.scope), f.name);
      if (readIfExists(file) === f.text) continue;
      writeFileAtomic(file, f.text, 0o644);
      pending.reload = true;
    }
  } else {
    await removeLogUnits(unit, ctx, pending);
  }
  if (text === rendered) return;
  writeFileAtomic(path, rendered, 0o644);
  pending.reload = true;
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Stops and removes a unit's companion units (the output pipe and its stamper) when tend wrote them. */
async function removeLogUnits(unit: string, ctx: ApplyContext, pending: PendingReload): Promise<void> {
  const names = logUnitsOf(unit);
  const files = [names.service, names.socket].map((n) => ({ name: n, path: join(unitDirOf(ctx.config.systemd.scope), n) }))
    .filter((f) => {
      const text = readIfExists(f.path);
      return text !== undefined && readMarks(text).app === ctx.config.app && /^X-Tend-Log-Of=/m.test(text);
    });
  if (files.length === 0) return;
  const r = await systemctl(['stop', '--', ...files.map((f) => f.name)], runOf(ctx));
  if (r.exitCode !== 0 && !/not loaded|does not exist|not found/i.test(r.stderr)) {
    throw new Error(`systemctl stop ${files.map((f) => f.name).join(' ')} failed: ${r.stderr.trim().split('\n')[0] || `exit code ${r.exitCode}`}`);
  }
  for (const f of files) {
    rmSync(f.path, { force: true });
    if (existsSync(f.path)) throw new Error(`could not remove ${f.path}`);
  }
  await systemctl(['reset-failed', '--', ...files.map((f) => f.name)], runOf(ctx));
  pending.reload = true;
}

async function start(action: RuntimeAction, ctx: ApplyContext, pending: PendingReload): Promise<void> {
  const unit = unitOf(action, ctx);
  if (ownedUnit(unit, ctx).text === undefined) throw new Error(`cannot start systemd unit ${unit}: its unit file does not exist (write-unit first)`);
  await pending.flush(runOf(ctx));
  await clearStartLimit(unit, ctx);
  await systemctlOrThrow(['start', '--', unit], runOf(ctx));
}

/**
 * tend decided to (re)start the unit: systemd's own record of a crash loop must not refuse it. After a process
 * that kept failing (a release deleted: status=203/EXEC), systemd stops retrying at its start limit, and a start
 * within that interval, or queued behind a pending automatic restart, fails ("control process exited with error
 * code") even though the release is back. reset-failed clears the failed state and the start limit counter.
 */
async function clearStartLimit(unit: string, ctx: ApplyContext): Promise<void> {
  await systemctl(['reset-failed', '--', unit], runOf(ctx));
}

/** SIGTERM, then SIGKILL after TimeoutStopSec (systemd's own graceful stop); a unit not loaded is stopped. */
async function stop(action: RuntimeAction, ctx: ApplyContext): Promise<void> {
  const unit = unitOf(action, ctx);
  if (ownedUnit(unit, ctx).text === undefined) return;
  const r = await systemctl(['stop', '--', unit], runOf(ctx));
  if (r.exitCode !== 0 && !/not loaded|does not exist|not found/i.test(r.stderr)) {
    throw new Error(`systemctl stop ${unit} failed: ${r.stderr.trim().split('\n')[0] || `exit code ${r.exitCode}`}`);
  }
}

async function restart(action: RuntimeAction, ctx: ApplyContext, pending: PendingReload): Promise<void> {
  const unit = unitOf(action, ctx);
  if (ownedUnit(unit, ctx).text === undefined) throw new Error(`cannot restart systemd unit ${unit}: its unit file does not exist (write-unit first)`);
  await pending.flush(runOf(ctx));
  await clearStartLimit(unit, ctx);
  await systemctlOrThrow(['restart', '--', unit], runOf(ctx));
}

/** Stops, disables and removes the unit file; the reload is left to the batch's flush. */
async function remove(action: RuntimeAction, ctx: ApplyContext, pending: PendingReload): Promise<void> {
  const unit = unitOf(action, ctx);
  const { path, text } = ownedUnit(unit, ctx);
  if (text === undefined) {
    await removeLogUnits(unit, ctx, pending);
    return;
  }
  await stop(action, ctx);
  await systemctlOrThrow(['disable', '--no-reload', '--', unit], runOf(ctx));
  pending.enable.delete(unit);
  rmSync(path, { force: true });
  if (existsSync(path)) throw new Error(`could not remove ${path}`);
  // A failed unit stays listed until reset; clear it so the name is free again.
  await systemctl(['reset-failed', '--', unit], runOf(ctx));
  await removeLogUnits(unit, ctx, pending);
  pending.reload = true;
}

export function applySystemd(action: RuntimeAction, ctx: ApplyContext, pending: PendingReload): Promise<void> {
  return dispatch('systemd', action, {
    'write-unit': () => writeUnit(action, ctx, pending),
    start: () => start(action, ctx, pending),
    stop: () => stop(action, ctx),
    restart: () => restart(action, ctx, pending),
    delete: () => remove(action, ctx, pending),
  });
}
