// The Docker driver: containers <app>-<instance> in the Docker Engine, through dockerode.
import type { Driver } from '../types.js';
import { applyDocker, DEFAULT_TIMINGS, type DockerTimings } from './apply.js';
import type { EngineOptions } from './engine.js';
import { observeDocker } from './observe.js';

export type DockerDriverOptions = Partial<DockerTimings> & EngineOptions;

/** A Docker driver; options shorten the stop timeout (tests) or name the Engine's socket. */
export function createDockerDriver(options: DockerDriverOptions = {}): Driver {
  const { socketPath, ...timings } = options;
  const t: DockerTimings = { ...DEFAULT_TIMINGS, ...timings };
  const engine: EngineOptions = socketPath !== undefined ? { socketPath } : {};
  return {
    runtime: 'docker',
    observe: (ctx) => observeDocker(ctx, engine),
    apply: (action, ctx) => applyDocker(action, ctx, t, engine),
  };
}

export const dockerDriver: Driver = createDockerDriver();
