// Watches desired/, tend.yaml and instances/*/requests.json with chokidar; each event only says which instance to look at again, after a debounce.
import { basename, dirname, extname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

/** `instance`: its desired file changed (work in flight is moot); `request`: its requests.json (e.g. `tend restart --no-apply`); `all`: tend.yaml. */
export type WatchTarget = { kind: 'instance'; name: string } | { kind: 'request'; name: string } | { kind: 'all' };

export interface DesiredWatcher {
  ready: Promise<void>;
  close(): Promise<void>;
}

export interface WatchOptions {
  desiredDir: string;
  configFile: string;
  /** instances/: its `<name>/requests.json` files are watched too. */
  instancesDir?: string;
  debounceMs: number;
  onChange: (target: WatchTarget) => void;
  onError?: (err: Error) => void;
}

const YAML = new Set(['.yaml', '.yml']);
const REQUESTS = 'requests.json';

/** Events for one target within `debounceMs` of each other become one call, `debounceMs` after the last. */
export function watchDesired(opts: WatchOptions): DesiredWatcher {
  const timers = new Map<string, NodeJS.Timeout>();
  const desiredDir = resolve(opts.desiredDir);
  const configFile = resolve(opts.configFile);
  const fire = (key: string, target: WatchTarget) => {
    clearTimeout(timers.get(key));
    timers.set(key, setTimeout(() => {
      timers.delete(key);
      opts.onChange(target);
    }, opts.debounceMs));
  };
  const instancesDir = opts.instancesDir !== undefined ? resolve(opts.instancesDir) : undefined;
  const onEvent = (path: string) => {
    const abs = resolve(path);
    if (abs === configFile) return fire('\0all', { kind: 'all' });
    if (instancesDir && basename(abs) === REQUESTS && dirname(dirname(abs)) === instancesDir) {
      const name = basename(dirname(abs));
      return fire(`\0request:${name}`, { kind: 'request', name });
    }
    if (dirname(abs) !== desiredDir || !YAML.has(extname(abs))) return;
    const name = basename(abs, extname(abs));
    fire(name, { kind: 'instance', name });
  };
  const watcher: FSWatcher = watch([desiredDir, configFile, ...(instancesDir ? [instancesDir] : [])], {
    ignoreInitial: true,
    // desired/*.yaml are direct children; instances/<name>/requests.json one level down.
    depth: 1,
    // Only folders (to descend) and the files that matter: status.json and logs churn all the time.
    ignored: (path, stats) => stats?.isFile() === true && !(YAML.has(extname(path)) || basename(path) === REQUESTS || resolve(path) === configFile),
    // Editors write a temp file and rename it over: the rename arrives as add/change on the final name.
    atomic: true,
  });
  watcher.on('add', onEvent).on('change', onEvent).on('unlink', onEvent);
  watcher.on('error', (err) => opts.onError?.(err instanceof Error ? err : new Error(String(err))));
  const ready = new Promise<void>((res) => watcher.once('ready', () => res()));
  return {
    ready,
    async close() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      await watcher.close();
    },
  };
}
