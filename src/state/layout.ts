// The instance directory's layout: which entries are tend's own and which the app may write.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertOwnDirOrAbsent } from '../fs/safe.js';

/**
 * The folders the app may write: mounted read-write in Docker (`/instance/data`, `/instance/projects`)
 * and the only `ReadWritePaths=` of a hardened systemd unit. Everything else in the instance
 * directory is tend's: `.env`, `.version-history`, `status.json`, `requests.json`, `adopted.json`,
 * `config.yaml` and `logs/` (the runtime's capture of the process's output, written by root).
 */
export const APP_DIRS = ['data', 'projects'] as const;
export type AppDir = (typeof APP_DIRS)[number];
export const LOGS_DIR = 'logs';

export interface InstanceLayout {
  dir: string;
  env: string;
  config: string;
  logs: string;
  data: string;
  projects: string;
}

export function instanceLayout(instancesDir: string, name: string): InstanceLayout {
  const dir = join(instancesDir, name);
  return {
    dir, env: join(dir, '.env'), config: join(dir, 'config.yaml'), logs: join(dir, LOGS_DIR),
    data: join(dir, 'data'), projects: join(dir, 'projects'),
  };
}

/**
 * Creates the instance directory (0755, tend's), `logs/` (0755, tend's) and the app's folders; refuses
 * (UnsafeFileError) when any of them is a link or not a folder, so no later write goes through one.
 */
export function prepareInstanceDir(instancesDir: string, name: string): InstanceLayout {
  const l = instanceLayout(instancesDir, name);
  assertOwnDirOrAbsent(l.dir);
  mkdirSync(l.dir, { recursive: true, mode: 0o755 });
  for (const d of [l.logs, l.data, l.projects]) {
    assertOwnDirOrAbsent(d);
    mkdirSync(d, { mode: 0o755, recursive: true });
  }
  return l;
}
