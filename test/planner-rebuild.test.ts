// Planner table (issue 14, point 3): a release that is missing or invalid is rebuilt before what needs it is
// started again: a restart after a crash, a start after `tend retry`, a start of a stopped thing, a requested
// restart, and the upkeep of a rollback target. A running instance, a stop, or a source that cannot be read
// plans no build.
import { describe, expect, it } from 'vitest';
import type { InstanceState } from '../src/model/types.js';
import type { ActionType, Change, Plan } from '../src/model/plan.js';
import { plan } from '../src/planner/plan.js';
import {
  C0, C1, actionTypesOf, appliedSpec, built, config, desired, hashOf, instanceState, observed, releases, resolved, upToDateItem,
  validEntry, type PlanInput, type ValidEntry,
} from './helpers/planner-fixtures.js';

interface Row {
  name: string;
  input: () => PlanInput;
  change: Change;
  /** The whole plan's action types, in order (the shared build first when there is one). */
  actions: ActionType[];
  /** Substring of the instance's reason. */
  reason?: string;
  /** Substring of the instance's release text (null: none). */
  release?: string | null;
  check?: (p: Plan) => void;
}

const deployed = (entry: ValidEntry, commit: string, extra: Partial<InstanceState> = {}): InstanceState =>
  ({ ...instanceState(entry.name, { digest: '', applied: appliedSpec(entry, commit, '') }), ...extra });

/** v1.3.0 resolves to C1; releases/v1.3.0 is as given (absent: deleted from disk). */
const catalog = (release?: ReturnType<typeof built>) => releases({
  resolutions: { 'v1.2.0': resolved('v1.2.0', C0), 'v1.3.0': resolved('v1.3.0', C1) },
  built: [built('v1.2.0', C0), ...(release ? [release] : [])],
});

/** web (runtime `rt`) made from its desired spec, applied, observed in `state`; releases/v1.3.0 as given. */
function web(state: 'running' | 'failed' | 'stopped', release: ReturnType<typeof built> | undefined, opts: {
  runtime?: 'systemd' | 'tmux' | 'docker'; exitStatus?: number; st?: Partial<InstanceState>; images?: string[];
} = {}): PlanInput {
  const entry = validEntry('web', {}, opts.runtime ?? 'systemd');
  const st = deployed(entry, C1, opts.st);
  return {
    desired: desired([entry], opts.runtime === 'docker' ? { config: config({ source: { image: 'oubliette:build' } }) } : {}),
    observed: observed([upToDateItem(entry, C1, st, { state, ...(opts.exitStatus !== undefined ? { exitStatus: opts.exitStatus } : {}) })], { images: opts.images ?? [] }),
    releases: catalog(release),
    states: { web: st },
  };
}

const START: ActionType[] = ['start', 'verify-health'];

const rows: Row[] = [
  {
    name: 'release deleted, the process died (systemd 203/EXEC): build v1.3.0 first, then restart and verify',
    input: () => web('failed', undefined, { exitStatus: 203 }),
    change: 'start', actions: ['build-release', ...START],
    reason: 'oubliette-web.service died (exit status 203); release v1.3.0 is rebuilt first (it is missing)',
    release: 'build v1.3.0 (commit 1111111, cache miss)',
    check: (p) => {
      expect(p.actions[0]).toMatchObject({ id: 'build/v1.3.0', type: 'build-release', version: 'v1.3.0', commit: C1 });
      expect(p.actions[1]).toMatchObject({ type: 'start', dependsOn: ['build/v1.3.0'], crash: { exitStatus: 203 } });
    },
  },
  {
    name: 'release invalid (artifact missing), the process died: rebuilt first, the problem named',
    input: () => web('failed', built('v1.3.0', C1, { valid: false, problem: 'artifact bin/app is missing' })),
    change: 'start', actions: ['build-release', ...START],
    reason: 'release v1.3.0 is rebuilt first (artifact bin/app is missing)',
    release: 'rebuild: artifact bin/app is missing',
  },
  {
    name: 'release deleted, stopped outside tend (or after tend retry): build, then start',
    input: () => web('stopped', undefined),
    change: 'start', actions: ['build-release', ...START], reason: 'is stopped; release v1.3.0 is rebuilt first',
  },
  {
    name: 'release deleted on tmux, the pane died: build, then start',
    input: () => web('failed', undefined, { runtime: 'tmux', exitStatus: 127 }),
    change: 'start', actions: ['build-release', ...START],
  },
  {
    name: 'release deleted on Docker, the container stopped: build (it saves the image again), then start',
    input: () => web('stopped', undefined, { runtime: 'docker' }),
    change: 'start', actions: ['build-release', ...START],
  },
  {
    name: 'release deleted, a restart requested: build first, the disruption is rebuild+restart',
    input: () => web('running', undefined, { st: { restartRequestedAt: '2999-01-01T00:00:00Z' } }),
    change: 'restart', actions: ['build-release', 'restart', 'verify-health'],
    check: (p) => expect(p.instances[0]!.disruption).toBe('rebuild+restart'),
  },
  {
    name: 'release present and valid, the process died: restarted without a build (as before)',
    input: () => web('failed', built('v1.3.0', C1)),
    change: 'start', actions: START, release: null,
  },
  {
    name: 'release deleted while the process runs: nothing is planned until it must start again',
    input: () => web('running', undefined),
    change: 'unchanged', actions: [], release: null,
  },
  {
    name: 'release deleted and the source cannot be read: restarted without a build (nothing to build from)',
    input: () => {
      const i = web('failed', undefined);
      return { ...i, releases: { ...i.releases, resolutions: { 'v1.3.0': { status: 'unresolved', reason: 'git: repository not found' } } } };
    },
    change: 'start', actions: START, release: null,
  },
  {
    name: 'rolled back to v1.2.0 (v1.3.0 held), v1.2.0 deleted, then it died: rebuild v1.2.0 before the upkeep restart',
    input: () => {
      const good = validEntry('web', { version: 'v1.2.0' });
      const bad = validEntry('web');
      const st: InstanceState = {
        ...instanceState('web', { digest: '', applied: appliedSpec(good, C0, '') }),
        phase: 'RolledBack',
        held: { specHash: hashOf(bad, C1), version: 'v1.3.0', at: '2024-05-02T10:00:00.000Z', reason: 'HTTP 500 from /health' },
      };
      return {
        desired: desired([bad]),
        observed: observed([upToDateItem(good, C0, st, { state: 'failed', exitStatus: 203 })]),
        releases: releases({ resolutions: { 'v1.3.0': resolved('v1.3.0', C1) }, built: [built('v1.3.0', C1)] }),
        states: { web: st },
      };
    },
    change: 'start', actions: ['build-release', ...START], reason: 'rolled back to v1.2.0, v1.3.0 stays held',
    check: (p) => expect(p.actions[0]).toMatchObject({ type: 'build-release', version: 'v1.2.0', commit: C0 }),
  },
];

describe('planner: a missing or invalid release is rebuilt before it is started (issue 14, point 3)', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const i = row.input();
    const p = plan(i.desired, i.observed, i.releases, i.states, i.options);
    const web = p.instances.find((x) => x.name === 'web')!;
    expect(web.change).toBe(row.change);
    expect(p.actions.map((a) => a.type)).toEqual(row.actions);
    expect(actionTypesOf(p, web.actions)).toEqual(row.actions.filter((t) => t !== 'build-release'));
    if (row.reason !== undefined) expect(web.reason).toContain(row.reason);
    if (row.release === null) expect(web.release).toBeUndefined();
    else if (row.release !== undefined) expect(web.release).toContain(row.release);
    expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    row.check?.(p);
  });
});
