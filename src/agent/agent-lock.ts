// One agent per deployment root: `instances/.agent.lock` holds its PID; a dead holder's lock is taken over.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeOwner, readLockOwner, tryAcquireLock, type Lock, type LockOwner } from '../fs/lock.js';
import type { RootPaths } from '../spec/config.js';
import { TendError } from '../shared/errors.js';

/** Dot-named, so it can never be an instance (names start with a letter or digit). */
export const AGENT_LOCK = '.agent.lock';

export function agentLockPath(paths: Pick<RootPaths, 'instances'>): string {
  return join(paths.instances, AGENT_LOCK);
}

/** Another agent holds the root: the operator's to resolve (stop one of them); trying again will not help. */
export class AgentRunningError extends TendError {
  constructor(readonly path: string, readonly owner: LockOwner | undefined) {
    super(`another tend agent runs on this root (${describeOwner(owner)}; lock ${path})`, { kind: 'user' });
  }
}

/** Takes the agent lock or throws AgentRunningError; `onStale` hears of a dead predecessor's lock taken over. */
export function acquireAgentLock(paths: Pick<RootPaths, 'instances'>, onStale: (owner: LockOwner | undefined) => void): Lock {
  mkdirSync(paths.instances, { recursive: true });
  const path = agentLockPath(paths);
  const lock = tryAcquireLock(path, { purpose: 'tend agent', onStale });
  if (!lock) throw new AgentRunningError(path, readLockOwner(path));
  return lock;
}
