// Puts the agent together: loop, status server, metrics, git pull, release prune and log caps on their schedules.
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { parseDuration } from '../shared/duration.js';
import { planPrune } from '../release/prune.js';
import { pruneRelease } from '../release/remove.js';
import { gatherReleaseUsage } from '../ops/release-usage.js';
import { CONFIG_FILE } from '../spec/config.js';
import { isDesiredFileName } from '../spec/desired.js';
import { Agent } from './agent.js';
import { pullDesired, pullWarning } from './git-pull.js';
import { logFilesOf, logRoots, rotateLogs } from './logrotate.js';
import { AgentMetrics } from './metrics.js';
import { startStatusServer, type StatusServer } from './server.js';
import { errorMessage } from '../shared/errors.js';

export interface RunAgentOptions {
  cwd: string;
  dir?: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Overrides `agent.listen`. */
  listen?: string;
}

export interface RunningAgent {
  agent: Agent;
  metrics: AgentMetrics;
  server: StatusServer;
  /** Stops everything (bounded by `agent.shutdownTimeout`); resolves how the work in flight ended. */
  stop(): Promise<'clean' | 'timeout'>;
}

/** Deletes all but the newest `releases.keep` releases, never one in use, wanted or a rollback target. */
export async function pruneReleases(agent: Agent, log: Logger): Promise<string[]> {
  const desired = agent.load();
  if (!desired) return [];
  const usage = await gatherReleaseUsage(desired, agent.paths);
  if (usage.unobserved.length > 0) {
    log.warn({ unobserved: usage.unobserved }, 'release prune skipped: a runtime could not be observed, so what it runs is unknown');
    return [];
  }
  const p = planPrune({ releases: usage.releases, inUse: usage.inUse, keep: desired.config.releases.keep });
  const deleted: string[] = [];
  const infos = new Map(usage.releases.map((r) => [r.version, r]));
  const keepImageIds = new Set(p.keep.flatMap((k) => infos.get(k.version)?.imageId ?? []));
  for (const version of p.delete) {
    const imageId = infos.get(version)?.imageId;
    const outcome = await pruneRelease({
      releasesDir: agent.paths.releases, version, app: desired.config.app, keepImageIds, ...(imageId ? { imageId } : {}),
    });
    if (outcome.status === 'busy') log.info(`release prune: ${version} is being built; kept`);
    else if (outcome.status === 'kept') log.warn(`release prune: kept ${version}: ${outcome.why}`);
    else deleted.push(version);
  }
  if (deleted.length > 0) log.info({ deleted }, `release prune: deleted ${deleted.join(', ')}`);
  return deleted;
}

/** Starts the agent (lock, status server, first resync, watchers, schedules). Throws when another agent holds the root. */
export async function runAgent(opts: RunAgentOptions): Promise<RunningAgent> {
  const log = opts.logger;
  const metrics = await AgentMetrics.create();
  const agent = new Agent({ cwd: opts.cwd, ...(opts.dir !== undefined ? { dir: opts.dir } : {}), env: opts.env, logger: log });
  agent.acquire();
  agent.hooks = metrics;
  let server: StatusServer;
  try {
    server = await startStatusServer({ listen: opts.listen ?? agent.config.agent.listen, view: agent, metrics, log });
  } catch (err) {
    await agent.stop(0);
    throw err;
  }
  log.info({ url: server.url, root: agent.root }, `tend agent on ${agent.root}; status at ${server.url}`);
  await agent.start();
  const cfg = agent.config.agent;

  if (cfg.git.pull) {
    let pulling = false;
    agent.schedule.every(parseDuration(cfg.git.interval), () => {
      if (pulling) return;
      pulling = true;
      void pullDesired(agent.paths.desired, { configFile: join(agent.root, CONFIG_FILE) }).then((r) => {
        agent.setProblem('git', pullWarning(r));
        if (r.status === 'pulled') {
          // Only desired files (and tend.yaml) matter: a pull that changes nothing else tend reads is not news.
          const files = r.changed.filter((f) => isDesiredFileName(basename(f)));
          if (files.length === 0 && !r.configChanged) {
            log.debug({ from: r.from, to: r.to, changed: r.changed }, r.message);
            return;
          }
          log.info({ from: r.from, to: r.to, changed: files }, r.message);
          if (r.configChanged) void agent.resync('pulled tend.yaml');
          for (const file of files) agent.enqueue(basename(file).replace(/\.ya?ml$/, ''), true);
        } else if (pullWarning(r)) {
          log.warn({ status: r.status }, r.message);
        }
      }).catch((err: unknown) => {
        agent.setProblem('git', `git pull failed: ${errorMessage(err)}`);
        log.error({ err }, `git pull failed: ${errorMessage(err)}`);
      }).finally(() => {
        pulling = false;
      });
    });
  }

  agent.schedule.cron(cfg.prune, () => void pruneReleases(agent, log).catch((err: unknown) => log.error({ err }, `release prune failed: ${errorMessage(err)}`)));

  agent.schedule.every(parseDuration(cfg.logs.interval), () => {
    const r = rotateLogs({ files: () => logFilesOf(agent.paths), maxSize: cfg.logs.maxSize, keep: cfg.logs.keep, within: logRoots(agent.paths) });
    for (const x of r.rotated) log.info({ file: x.file, size: x.size }, `log rotated: ${x.file}`);
    for (const x of r.errors) log.warn({ file: x.file }, `log rotation failed for ${x.file}: ${x.message}`);
  });

  return {
    agent, metrics, server,
    async stop() {
      const outcome = await agent.stop();
      await server.close();
      return outcome;
    },
  };
}
