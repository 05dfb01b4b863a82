// The launchd driver: one plist per instance (LaunchAgents or LaunchDaemons, tend.yaml launchd.scope), managed with launchctl.
import type { Driver } from '../types.js';
import { applyLaunchd } from './apply.js';
import type { JobOptions } from './job.js';
import { observeLaunchd } from './observe.js';

export type LaunchdDriverOptions = Partial<JobOptions>;

export const DEFAULT_JOB_OPTIONS: JobOptions = { exitTimeoutSec: 30, throttleSec: 10 };

/**
 * A launchd driver. Options (tests): `plistDir` (else env TEND_LAUNCHD_DIR, else the scope's folder),
 * `exitTimeoutSec` (the plists' ExitTimeOut), `throttleSec` (ThrottleInterval), `uid` (of gui/<uid>).
 */
export function createLaunchdDriver(options: LaunchdDriverOptions = {}): Driver {
  const o: JobOptions = { ...DEFAULT_JOB_OPTIONS, ...options };
  // Set once launchctl turns out to predate OS X 10.10; then load/unload/start stand in.
  const legacy = { on: false };
  return {
    runtime: 'launchd',
    observe: (ctx) => observeLaunchd(ctx, o),
    apply: (action, ctx) => applyLaunchd(action, ctx, { ...o, legacy }),
  };
}

export const launchdDriver: Driver = createLaunchdDriver();
