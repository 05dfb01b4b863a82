// Table-driven tests of the pure planner: safety rules, releases, updates, reconfigures, holds, state and ownership.
import { describe, expect, it } from 'vitest';
import { loose, type LooseAction } from './helpers/planner-fixtures.js';
import type { InstanceState, InstanceStates, Phase, Runtime, Severity } from '../src/model/types.js';
import type { ActionType, Change, Disruption, FieldChange, Plan, PlanSummary } from '../src/model/plan.js';
import { RUNTIMES } from '../src/model/types.js';
import { plan } from '../src/planner/plan.js';
import { envDigest } from '../src/observe/instances.js';
import {
  C0, C1, C2, actionTypesOf, appliedSpec, built, config, counts, deepFreeze, desired, hashOf, instanceState,
  invalidEntry, observed, observedItem, releases, resolved, standardReleases, upToDateItem, validEntry,
  type PlanInput,
} from './helpers/planner-fixtures.js';

interface InstanceExpect {
  name: string;
  /** Needed only when two plans share a name (an unowned thing named like a declared instance). */
  change: Change;
  disruption: Disruption;
  /** Types of the instance's own actions, in order (shared builds are not listed by the instance). */
  actions: ActionType[];
  runtime?: Runtime;
  reason?: string;
  reasonStartsWith?: string;
  /** Substring of the release text; `null`: no release text. */
  release?: string | null;
  /** Exactly these fields (order included). */
  fields?: FieldChange[];
  /** At least these fields. */
  someFields?: FieldChange[];
  version?: string;
  fromVersion?: string;
  phase?: Phase;
}

interface ActionExpect {
  id: string;
  type: ActionType;
  dependsOn: string[];
  disruption?: Disruption;
  target?: string;
  runtime?: Runtime;
}

interface DiagnosticExpect {
  severity: Severity;
  message: string;
  file?: string;
  line?: number;
}

interface Row {
  name: string;
  input: () => PlanInput;
  /** Every instance plan, in plan order. */
  instances: InstanceExpect[];
  /** The whole action list, in order, when given. */
  actions?: ActionExpect[];
  /** Types of every action of the plan, in order, when given. */
  actionTypes?: ActionType[];
  summary: Partial<PlanSummary>;
  /** Every diagnostic of the plan (none when omitted). */
  diagnostics?: DiagnosticExpect[];
  check?: (p: Plan, input: PlanInput) => void;
}

/**
 * A plan input. An instance whose observed item already runs its desired spec gets a status.json
 * recording that spec as applied (seen healthy) unless the row gives its state: without one the
 * planner verifies its health first (tested in its own rows).
 */
function input(partial: Partial<PlanInput> & Pick<PlanInput, 'desired'>): PlanInput {
  const base: PlanInput = { observed: observed([]), releases: standardReleases(), states: {}, ...partial };
  if (partial.states !== undefined) return base;
  const states: InstanceStates = {};
  for (const e of base.desired.entries) {
    if (e.status !== 'valid') continue;
    const res = base.releases.resolutions[e.spec.version];
    const commit = res?.status === 'resolved' ? res.commit : undefined;
    const items = RUNTIMES.flatMap((rt) => base.observed.runtimes[rt]?.items ?? []);
    if (commit && items.some((i) => i.owned && i.instance === e.name && i.specHash === hashOf(e, commit))) {
      states[e.name] = deployedState(e.name, e, commit, '');
    }
  }
  return { ...base, states };
}

function run(i: PlanInput): Plan {
  return plan(i.desired, i.observed, i.releases, i.states, i.options);
}

const WRITE_START: ActionType[] = ['write-config', 'write-unit', 'start', 'verify-health'];
const UPDATE: ActionType[] = ['stop', 'write-config', 'write-unit', 'start', 'verify-health'];
const DOCKER_UPDATE: ActionType[] = ['stop', 'write-config', 'create-container', 'start', 'verify-health'];
const DELETE_TYPES = new Set<ActionType>(['stop', 'delete']);

// A running instance made from `old` with commit `commit`, status.json recording it as applied.
function deployedState(name: string, old: ReturnType<typeof validEntry>, commit: string, digest = 'digest-empty', extra: Parameters<typeof instanceState>[1] = {}): InstanceState {
  return instanceState(name, { digest, applied: appliedSpec(old, commit, digest), ...extra });
}

const secretOld = 'old-secret-value-7f3a';
const secretNew = 'n3w-s3cret-value-91c2';
const digestOld = envDigest(new Map([['API_KEY', secretOld]]));
const digestNew = envDigest(new Map([['API_KEY', secretNew]]));

const rows: Row[] = [
  // ---- safety rules ------------------------------------------------------
  {
    name: 'invalid file: InvalidSpec, no action, its unit keeps running; a valid instance is still created',
    input: () => input({
      desired: desired([invalidEntry('web'), validEntry('api')]),
      observed: observed([observedItem('systemd', 'web', { version: 'v1.2.0', specHash: 'f'.repeat(64) })]),
    }),
    instances: [
      { name: 'api', change: 'create', disruption: 'none', actions: WRITE_START, release: 'reuse v1.3.0', version: 'v1.3.0' },
      {
        name: 'web', change: 'invalid', disruption: 'none', actions: [], phase: 'InvalidSpec', release: null,
        reason: 'desired/web.yaml has errors; oubliette-web.service (v1.2.0) keeps running',
      },
    ],
    summary: { create: 1, invalid: 1 },
    diagnostics: [{ severity: 'error', message: 'port must be <= 65535', file: 'desired/web.yaml', line: 4 }],
    check: (p) => expect(loose(p.actions).filter((a) => a.instance === 'web' || a.target === 'oubliette-web.service')).toEqual([]),
  },
  {
    name: 'invalid file: its running unit is not an orphan and is not deleted, even with prune, deleteRemoved and force',
    input: () => {
      const api = validEntry('api');
      return input({
        desired: desired([invalidEntry('web'), api], { config: config({ prune: { deleteRemoved: true } }) }),
        observed: observed([observedItem('systemd', 'web', { version: 'v1.2.0' }), upToDateItem(api, C1)]),
        options: { prune: true, force: true },
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [], reason: 'up to date' },
      { name: 'web', change: 'invalid', disruption: 'none', actions: [], phase: 'InvalidSpec', reason: 'keeps running' },
    ],
    actions: [],
    summary: { invalid: 1, unchanged: 1 },
    diagnostics: [{ severity: 'error', message: 'port must be <= 65535' }],
  },
  {
    name: 'removed file, deletion off: orphan report only, no stop or delete',
    input: () => {
      const api = validEntry('api');
      return input({
        desired: desired([api]),
        observed: observed([upToDateItem(api, C1), observedItem('systemd', 'web', { version: 'v1.2.0' })]),
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [] },
      {
        name: 'web', change: 'orphan', disruption: 'none', actions: ['orphan'], version: 'v1.2.0', runtime: 'systemd',
        reason: 'desired/web.yaml is gone (systemd unit oubliette-web.service); deletion is off',
      },
    ],
    actions: [{ id: 'web/orphan@systemd', type: 'orphan', dependsOn: [], target: 'oubliette-web.service' }],
    summary: { orphan: 1, unchanged: 1 },
  },
  {
    name: 'removed file with --prune: stop then delete, disruption delete',
    input: () => {
      const api = validEntry('api');
      const db = validEntry('db', { port: 8081 });
      return input({
        desired: desired([api, db]),
        observed: observed([upToDateItem(api, C1), upToDateItem(db, C1), observedItem('systemd', 'web', { version: 'v1.2.0' })]),
        options: { prune: true },
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'db', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'web', change: 'delete', disruption: 'delete', actions: ['stop', 'delete'], reason: 'desired/web.yaml is gone and deletion is on' },
    ],
    actions: [
      { id: 'web/stop@systemd', type: 'stop', dependsOn: [], target: 'oubliette-web.service', disruption: 'none' },
      { id: 'web/delete@systemd', type: 'delete', dependsOn: ['web/stop@systemd'], target: 'oubliette-web.service', disruption: 'delete' },
    ],
    summary: { delete: 1, unchanged: 2 },
  },
  {
    name: 'removed file with prune.deleteRemoved: true in tend.yaml: stop then delete',
    input: () => {
      const api = validEntry('api');
      const db = validEntry('db', { port: 8081 });
      return input({
        desired: desired([api, db], { config: config({ prune: { deleteRemoved: true } }) }),
        observed: observed([upToDateItem(api, C1), upToDateItem(db, C1), observedItem('docker', 'web', { version: 'v1.2.0' })]),
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'db', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'web', change: 'delete', disruption: 'delete', actions: ['stop', 'delete'], runtime: 'docker' },
    ],
    actions: [
      { id: 'web/stop@docker', type: 'stop', dependsOn: [], target: 'oubliette-web' },
      { id: 'web/delete@docker', type: 'delete', dependsOn: ['web/stop@docker'], target: 'oubliette-web', disruption: 'delete' },
    ],
    summary: { delete: 1, unchanged: 2 },
  },
  {
    name: 'removed instance that is already stopped: delete only; several runtimes deleted in runtime order',
    input: () => {
      const api = validEntry('api');
      const db = validEntry('db', { port: 8081 });
      return input({
        desired: desired([api, db]),
        observed: observed([
          upToDateItem(api, C1), upToDateItem(db, C1),
          observedItem('tmux', 'web', { state: 'running' }),
          observedItem('systemd', 'web', { state: 'stopped' }),
        ]),
        options: { prune: true },
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'db', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'web', change: 'delete', disruption: 'delete', actions: ['delete', 'stop', 'delete'], reason: 'desired/web.yaml is gone and deletion is on' },
    ],
    actions: [
      { id: 'web/delete@systemd', type: 'delete', dependsOn: [], target: 'oubliette-web.service' },
      { id: 'web/stop@tmux', type: 'stop', dependsOn: ['web/delete@systemd'], target: 'oubliette-web' },
      { id: 'web/delete@tmux', type: 'delete', dependsOn: ['web/stop@tmux'], target: 'oubliette-web' },
    ],
    summary: { delete: 1, unchanged: 2 },
  },
  {
    name: 'empty desired/ with running owned instances: nothing deleted even with prune, and a warning',
    input: () => input({
      desired: desired([], { config: config({ prune: { deleteRemoved: true } }) }),
      observed: observed([observedItem('systemd', 'web'), observedItem('docker', 'api')]),
      options: { prune: true },
    }),
    instances: [
      { name: 'api', change: 'orphan', disruption: 'none', actions: ['orphan'], reason: 'desired/ is empty: nothing is deleted' },
      { name: 'web', change: 'orphan', disruption: 'none', actions: ['orphan'], reason: 'desired/ is empty: nothing is deleted' },
    ],
    actionTypes: ['orphan', 'orphan'],
    summary: { orphan: 2 },
    diagnostics: [{ severity: 'warning', message: 'desired/ is empty: nothing is deleted (2 instances found without a desired file)', file: 'desired' }],
  },
  {
    name: 'empty desired/ is not overridden by --force',
    input: () => input({
      desired: desired([]),
      observed: observed([observedItem('systemd', 'web')]),
      options: { prune: true, force: true },
    }),
    instances: [{ name: 'web', change: 'orphan', disruption: 'none', actions: ['orphan'] }],
    actionTypes: ['orphan'],
    summary: { orphan: 1 },
    diagnostics: [{ severity: 'warning', message: 'desired/ is empty: nothing is deleted (1 instance found without a desired file)' }],
  },
  {
    name: 'missing desired/ deletes nothing, even with prune and force',
    input: () => input({
      desired: desired([], {
        dirExists: false, config: config({ prune: { deleteRemoved: true } }),
        diagnostics: [{ severity: 'warning', file: 'desired', message: 'desired/ does not exist: nothing is desired, and nothing will be deleted' }],
      }),
      observed: observed([observedItem('systemd', 'web'), observedItem('tmux', 'api', { state: 'stopped' })]),
      options: { prune: true, force: true },
    }),
    instances: [
      { name: 'api', change: 'orphan', disruption: 'none', actions: ['orphan'], reason: 'desired/ is missing: nothing is deleted' },
      { name: 'web', change: 'orphan', disruption: 'none', actions: ['orphan'], reason: 'desired/ is missing: nothing is deleted' },
    ],
    actionTypes: ['orphan', 'orphan'],
    summary: { orphan: 2 },
    diagnostics: [
      { severity: 'warning', message: 'desired/ does not exist' },
      { severity: 'warning', message: 'desired/ is missing: nothing is deleted (2 instances found without a desired file)' },
    ],
  },
  {
    name: 'deletion breaker: deleting 2 of 3 (> maxShare 0.5) is refused; instances blocked, error diagnostic',
    input: () => {
      const api = validEntry('api');
      return input({
        desired: desired([api]),
        observed: observed([upToDateItem(api, C1), observedItem('systemd', 'web'), observedItem('systemd', 'db')]),
        options: { prune: true },
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'db', change: 'blocked', disruption: 'none', actions: ['orphan'], reason: 'deletion breaker: 2 of 3 instances (67%) is more than prune.maxShare 50%; pass --force' },
      { name: 'web', change: 'blocked', disruption: 'none', actions: ['orphan'], reason: 'deletion breaker' },
    ],
    actionTypes: ['orphan', 'orphan'],
    summary: { blocked: 2, unchanged: 1 },
    diagnostics: [{ severity: 'error', message: 'refusing to delete 2 of 3 instances (db, web): more than prune.maxShare 50%; pass --force to allow' }],
  },
  {
    name: 'deletion breaker with --force: deletes',
    input: () => {
      const api = validEntry('api');
      return input({
        desired: desired([api]),
        observed: observed([upToDateItem(api, C1), observedItem('systemd', 'web'), observedItem('systemd', 'db')]),
        options: { prune: true, force: true },
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'db', change: 'delete', disruption: 'delete', actions: ['stop', 'delete'] },
      { name: 'web', change: 'delete', disruption: 'delete', actions: ['stop', 'delete'] },
    ],
    actionTypes: ['stop', 'delete', 'stop', 'delete'],
    summary: { delete: 2, unchanged: 1 },
  },
  {
    name: 'deletion breaker: exactly maxShare (2 of 4) is allowed; the share must be more to trip',
    input: () => {
      const api = validEntry('api');
      const db = validEntry('db', { port: 8081 });
      return input({
        desired: desired([api, db]),
        observed: observed([upToDateItem(api, C1), upToDateItem(db, C1), observedItem('systemd', 'web'), observedItem('systemd', 'cache', { state: 'failed' })]),
        options: { prune: true },
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'db', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'cache', change: 'delete', disruption: 'delete', actions: ['delete'] },
      { name: 'web', change: 'delete', disruption: 'delete', actions: ['stop', 'delete'] },
    ],
    actionTypes: ['delete', 'stop', 'delete'],
    summary: { delete: 2, unchanged: 2 },
  },
  {
    name: 'deletion breaker honours a custom prune.maxShare (1 of 3 > 25%)',
    input: () => {
      const api = validEntry('api');
      const db = validEntry('db', { port: 8081 });
      return input({
        desired: desired([api, db], { config: config({ prune: { deleteRemoved: true, maxShare: 0.25 } }) }),
        observed: observed([upToDateItem(api, C1), upToDateItem(db, C1), observedItem('systemd', 'web')]),
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'db', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'web', change: 'blocked', disruption: 'none', actions: ['orphan'], reason: '1 of 3 instances (33%) is more than prune.maxShare 25%' },
    ],
    summary: { blocked: 1, unchanged: 2 },
    diagnostics: [{ severity: 'error', message: 'refusing to delete 1 of 3 instances (web): more than prune.maxShare 25%' }],
  },
  {
    name: 'deletion off: the breaker stays quiet and removed instances are plain orphans',
    input: () => {
      const api = validEntry('api');
      return input({
        desired: desired([api]),
        observed: observed([upToDateItem(api, C1), observedItem('systemd', 'web'), observedItem('systemd', 'db')]),
      });
    },
    instances: [
      { name: 'api', change: 'unchanged', disruption: 'none', actions: [] },
      { name: 'db', change: 'orphan', disruption: 'none', actions: ['orphan'], reason: 'deletion is off' },
      { name: 'web', change: 'orphan', disruption: 'none', actions: ['orphan'], reason: 'deletion is off' },
    ],
    summary: { orphan: 2, unchanged: 1 },
  },

  // ---- create and releases -------------------------------------------------
  {
    name: 'create, cache miss: one build shared by two instances on the same version; both chains depend on it',
    input: () => input({
      desired: desired([validEntry('web'), validEntry('api', { port: 8081 })]),
      releases: releases({ resolutions: { 'v1.3.0': resolved('v1.3.0', C1) } }),
    }),
    instances: [
      { name: 'api', change: 'create', disruption: 'none', actions: WRITE_START, release: 'build v1.3.0 (commit 1111111, cache miss)', version: 'v1.3.0' },
      { name: 'web', change: 'create', disruption: 'none', actions: WRITE_START, release: 'build v1.3.0 (commit 1111111, cache miss)', version: 'v1.3.0' },
    ],
    actions: [
      { id: 'build/v1.3.0', type: 'build-release', dependsOn: [] },
      { id: 'api/write-config', type: 'write-config', dependsOn: ['build/v1.3.0'] },
      { id: 'api/write-unit@systemd', type: 'write-unit', dependsOn: ['api/write-config'], target: 'oubliette-api.service' },
      { id: 'api/start@systemd', type: 'start', dependsOn: ['api/write-unit@systemd'] },
      { id: 'api/verify-health@systemd', type: 'verify-health', dependsOn: ['api/start@systemd'] },
      { id: 'web/write-config', type: 'write-config', dependsOn: ['build/v1.3.0'] },
      { id: 'web/write-unit@systemd', type: 'write-unit', dependsOn: ['web/write-config'], target: 'oubliette-web.service' },
      { id: 'web/start@systemd', type: 'start', dependsOn: ['web/write-unit@systemd'] },
      { id: 'web/verify-health@systemd', type: 'verify-health', dependsOn: ['web/start@systemd'] },
    ],
    summary: { create: 2 },
    check: (p) => {
      const build = loose(p.actions).find((a) => a.type === 'build-release');
      expect(build).toMatchObject({ version: 'v1.3.0', commit: C1, reason: 'build v1.3.0 (commit 1111111, cache miss)' });
      expect(build?.instance).toBeUndefined();
    },
  },
  {
    name: 'create, release built from the resolved commit: reuse, no build',
    input: () => input({ desired: desired([validEntry('web')]) }),
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: WRITE_START, release: 'reuse v1.3.0', reason: 'new instance: no systemd unit oubliette-web.service exists' }],
    actions: [
      { id: 'web/write-config', type: 'write-config', dependsOn: [] },
      { id: 'web/write-unit@systemd', type: 'write-unit', dependsOn: ['web/write-config'] },
      { id: 'web/start@systemd', type: 'start', dependsOn: ['web/write-unit@systemd'] },
      { id: 'web/verify-health@systemd', type: 'verify-health', dependsOn: ['web/start@systemd'] },
    ],
    summary: { create: 1 },
    check: (p) => {
      expect(p.instances[0]?.release).toBe('reuse v1.3.0');
      expect(p.instances[0]?.fields).toContainEqual({ field: 'port', to: 8080 });
    },
  },
  {
    name: 'create, tag moved since the release was built: rebuild',
    input: () => input({
      desired: desired([validEntry('web')]),
      releases: releases({ resolutions: { 'v1.3.0': resolved('v1.3.0', C1) }, built: [built('v1.3.0', C0)] }),
    }),
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: WRITE_START, release: 'build v1.3.0 (commit 1111111, rebuild: tag moved)' }],
    actionTypes: ['build-release', ...WRITE_START],
    summary: { create: 1 },
    check: (p) => expect(loose(p.actions)[0]).toMatchObject({ id: 'build/v1.3.0', commit: C1, reason: 'build v1.3.0 (commit 1111111, rebuild: tag moved)' }),
  },
  {
    name: 'create, built release is invalid: rebuild',
    input: () => input({
      desired: desired([validEntry('web')]),
      releases: releases({ resolutions: { 'v1.3.0': resolved('v1.3.0', C1) }, built: [built('v1.3.0', C1, { valid: false, problem: 'artifact bin/oubliette is missing' })] }),
    }),
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: WRITE_START, release: 'rebuild: artifact bin/oubliette is missing' }],
    actionTypes: ['build-release', ...WRITE_START],
    summary: { create: 1 },
  },
  {
    name: 'version not found (Git tag v9.9.9 not found): blocked, error at the version line, the old unit untouched',
    input: () => input({
      desired: desired([validEntry('web', { version: 'v9.9.9' })]),
      observed: observed([observedItem('systemd', 'web', { version: 'v1.3.0', specHash: 'a'.repeat(64) })]),
      releases: standardReleases({ resolutions: { 'v9.9.9': { status: 'not-found', reason: 'Git tag v9.9.9 not found' } } }),
    }),
    instances: [{ name: 'web', change: 'blocked', disruption: 'none', actions: [], reason: 'Git tag v9.9.9 not found' }],
    actions: [],
    summary: { blocked: 1 },
    diagnostics: [{ severity: 'error', message: 'Git tag v9.9.9 not found', file: 'desired/web.yaml', line: 2 }],
  },
  {
    name: 'unresolved source: still planned (build), warning, release text (unresolved)',
    input: () => input({
      desired: desired([validEntry('web')]),
      releases: releases({ resolutions: { 'v1.3.0': { status: 'unresolved', reason: 'git ls-remote failed: network is unreachable' } } }),
    }),
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: WRITE_START, release: 'build v1.3.0 (unresolved)' }],
    actionTypes: ['build-release', ...WRITE_START],
    summary: { create: 1 },
    diagnostics: [{ severity: 'warning', message: 'release v1.3.0 is unresolved: git ls-remote failed: network is unreachable', file: 'desired/web.yaml', line: 2 }],
    check: (p) => expect(loose(p.actions)[0]?.commit).toBeUndefined(),
  },
  {
    name: 'unresolved source with a valid built release: reuse it, warning that it was not checked',
    input: () => input({
      desired: desired([validEntry('web')]),
      releases: releases({ resolutions: { 'v1.3.0': { status: 'unresolved', reason: 'offline' } }, built: [built('v1.3.0', C1)] }),
    }),
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: WRITE_START, release: 'reuse v1.3.0 (source not checked)' }],
    actionTypes: WRITE_START,
    summary: { create: 1 },
    diagnostics: [{ severity: 'warning', message: 'release v1.3.0 not checked against the source (offline); using the built release' }],
  },
  {
    name: 'create with state: stopped: write config and unit, no start',
    input: () => input({ desired: desired([validEntry('web', { state: 'stopped' })]) }),
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: ['write-config', 'write-unit'] }],
    summary: { create: 1 },
  },
  {
    name: 'create in tmux: a session instead of a unit',
    input: () => input({ desired: desired([validEntry('web', {}, 'tmux')]) }),
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: ['write-config', 'create-session', 'start', 'verify-health'], runtime: 'tmux' }],
    actions: [
      { id: 'web/write-config', type: 'write-config', dependsOn: [] },
      { id: 'web/create-session@tmux', type: 'create-session', dependsOn: ['web/write-config'], target: 'oubliette-web', runtime: 'tmux' },
      { id: 'web/start@tmux', type: 'start', dependsOn: ['web/create-session@tmux'] },
      { id: 'web/verify-health@tmux', type: 'verify-health', dependsOn: ['web/start@tmux'] },
    ],
    summary: { create: 1 },
  },
  {
    name: 'create in Docker with source.image and the image not in the engine: load-image first',
    input: () => input({
      desired: desired([validEntry('web', {}, 'docker')], { config: config({ source: { image: 'oubliette:latest' } }) }),
      releases: standardReleases({ built: [built('v1.3.0', C1, { imageId: 'sha256:1313' })] }),
      observed: observed([], { images: ['sha256:1212'] }),
    }),
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: ['load-image', 'write-config', 'create-container', 'start', 'verify-health'] }],
    summary: { create: 1 },
  },

  // ---- updates -------------------------------------------------------------
  {
    name: 'update v1.2.0 -> v1.3.0 (release built): stop, write-config, write-unit, start, verify-health; disruption restart',
    input: () => {
      const old = validEntry('web', { version: 'v1.2.0' });
      const st = deployedState('web', old, C0);
      return input({ desired: desired([validEntry('web')]), observed: observed([upToDateItem(old, C0, st)]), states: { web: st } });
    },
    instances: [{
      name: 'web', change: 'update', disruption: 'restart', actions: UPDATE, release: 'reuse v1.3.0',
      version: 'v1.3.0', fromVersion: 'v1.2.0', reason: 'version v1.2.0 -> v1.3.0',
      fields: [{ field: 'version', from: 'v1.2.0', to: 'v1.3.0' }],
    }],
    actions: [
      { id: 'web/stop@systemd', type: 'stop', dependsOn: [] },
      { id: 'web/write-config', type: 'write-config', dependsOn: ['web/stop@systemd'] },
      { id: 'web/write-unit@systemd', type: 'write-unit', dependsOn: ['web/write-config'] },
      { id: 'web/start@systemd', type: 'start', dependsOn: ['web/write-unit@systemd'] },
      { id: 'web/verify-health@systemd', type: 'verify-health', dependsOn: ['web/start@systemd'] },
    ],
    summary: { update: 1 },
    check: (p, i) => {
      const hash = hashOf(validEntry('web'), C1, i.states.web);
      expect(loose(p.actions).filter((a) => a.type !== 'stop').map((a) => a.specHash)).toEqual([hash, hash, hash, hash]);
    },
  },
  {
    name: 'update to a version not built yet: build first, disruption rebuild+restart',
    input: () => {
      const old = validEntry('web', { version: 'v1.2.0' });
      const st = deployedState('web', old, C0);
      return input({
        desired: desired([validEntry('web')]),
        observed: observed([upToDateItem(old, C0, st)]),
        releases: releases({ resolutions: { 'v1.2.0': resolved('v1.2.0', C0), 'v1.3.0': resolved('v1.3.0', C1) }, built: [built('v1.2.0', C0)] }),
        states: { web: st },
      });
    },
    instances: [{
      name: 'web', change: 'update', disruption: 'rebuild+restart', actions: UPDATE, fromVersion: 'v1.2.0',
      release: 'build v1.3.0 (commit 1111111, cache miss)', fields: [{ field: 'version', from: 'v1.2.0', to: 'v1.3.0' }],
    }],
    actionTypes: ['build-release', ...UPDATE],
    summary: { update: 1 },
    check: (p) => expect(p.actions[1]).toMatchObject({ id: 'web/stop@systemd', dependsOn: ['build/v1.3.0'] }),
  },
  {
    name: 'update without a recorded applied spec (no status.json): still an update, spec-hash field',
    input: () => {
      const old = validEntry('web', { version: 'v1.2.0' });
      return input({ desired: desired([validEntry('web')]), observed: observed([upToDateItem(old, C0)]) });
    },
    instances: [{
      name: 'web', change: 'update', disruption: 'restart', actions: UPDATE, fromVersion: 'v1.2.0',
      someFields: [{ field: 'version', from: 'v1.2.0', to: 'v1.3.0' }],
    }],
    summary: { update: 1 },
  },
  {
    name: 'Docker update with source.image, image missing from the engine: load-image, disruption replace',
    input: () => {
      const old = validEntry('web', { version: 'v1.2.0' }, 'docker');
      const st = deployedState('web', old, C0);
      return input({
        desired: desired([validEntry('web', {}, 'docker')], { config: config({ source: { image: 'oubliette:latest' } }) }),
        observed: observed([upToDateItem(old, C0, st, { imageId: 'sha256:1212' })], { images: ['sha256:1212'] }),
        releases: standardReleases({ built: [built('v1.2.0', C0, { imageId: 'sha256:1212' }), built('v1.3.0', C1, { imageId: 'sha256:1313' })] }),
        states: { web: st },
      });
    },
    instances: [{
      name: 'web', change: 'update', disruption: 'replace', actions: ['load-image', ...DOCKER_UPDATE], runtime: 'docker',
      fromVersion: 'v1.2.0', fields: [{ field: 'version', from: 'v1.2.0', to: 'v1.3.0' }],
    }],
    summary: { update: 1 },
    check: (p) => expect(loose(p.actions)[0]).toMatchObject({ id: 'web/load-image@docker', version: 'v1.3.0', dependsOn: [] }),
  },
  {
    name: 'Docker update with the release image already in the engine: no load-image',
    input: () => {
      const old = validEntry('web', { version: 'v1.2.0' }, 'docker');
      const st = deployedState('web', old, C0);
      return input({
        desired: desired([validEntry('web', {}, 'docker')], { config: config({ source: { image: 'oubliette:latest' } }) }),
        observed: observed([upToDateItem(old, C0, st, { imageId: 'sha256:1212' })], { images: ['sha256:1212', 'sha256:1313'] }),
        releases: standardReleases({ built: [built('v1.2.0', C0, { imageId: 'sha256:1212' }), built('v1.3.0', C1, { imageId: 'sha256:1313' })] }),
        states: { web: st },
      });
    },
    instances: [{ name: 'web', change: 'update', disruption: 'replace', actions: DOCKER_UPDATE, runtime: 'docker' }],
    summary: { update: 1 },
  },
  {
    name: 'Docker update to a release rebuilt because its tag moved: the new image must be loaded even if the stale one is present',
    input: () => {
      const old = validEntry('web', { version: 'v1.2.0' }, 'docker');
      const st = deployedState('web', old, C0);
      return input({
        desired: desired([validEntry('web', {}, 'docker')], { config: config({ source: { image: 'oubliette:latest' } }) }),
        observed: observed([upToDateItem(old, C0, st, { imageId: 'sha256:1212' })], { images: ['sha256:1212', 'sha256:stale'] }),
        releases: releases({
          resolutions: { 'v1.2.0': resolved('v1.2.0', C0), 'v1.3.0': resolved('v1.3.0', C1) },
          built: [built('v1.2.0', C0, { imageId: 'sha256:1212' }), built('v1.3.0', C2, { imageId: 'sha256:stale' })],
        }),
        states: { web: st },
      });
    },
    instances: [{ name: 'web', change: 'update', disruption: 'replace', actions: ['load-image', ...DOCKER_UPDATE], release: 'rebuild: tag moved' }],
    actionTypes: ['build-release', 'load-image', ...DOCKER_UPDATE],
    summary: { update: 1 },
  },
  {
    name: 'Docker config change (env): disruption replace, no image load when present',
    input: () => {
      const old = validEntry('web', { env: { LOG_LEVEL: 'info' } }, 'docker');
      const st = deployedState('web', old, C1);
      return input({
        desired: desired([validEntry('web', { env: { LOG_LEVEL: 'debug' } }, 'docker')], { config: config({ source: { image: 'oubliette:latest' } }) }),
        observed: observed([upToDateItem(old, C1, st, { imageId: 'sha256:1313' })], { images: ['sha256:1313'] }),
        releases: standardReleases({ built: [built('v1.3.0', C1, { imageId: 'sha256:1313' })] }),
        states: { web: st },
      });
    },
    instances: [{
      name: 'web', change: 'reconfigure', disruption: 'replace', actions: DOCKER_UPDATE,
      fields: [{ field: 'env.LOG_LEVEL', from: 'info', to: 'debug' }],
    }],
    summary: { change: 1 },
  },
  {
    name: 'Docker without source.image: never a load-image',
    input: () => {
      const old = validEntry('web', { version: 'v1.2.0' }, 'docker');
      const st = deployedState('web', old, C0);
      return input({ desired: desired([validEntry('web', {}, 'docker')]), observed: observed([upToDateItem(old, C0, st)]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'update', disruption: 'replace', actions: DOCKER_UPDATE }],
    summary: { update: 1 },
  },

  // ---- reconfigure -----------------------------------------------------------
  {
    name: 'env change on systemd: reconfigure with restart, field env.LOG_LEVEL from -> to',
    input: () => {
      const old = validEntry('web', { env: { LOG_LEVEL: 'info' } });
      const st = deployedState('web', old, C1);
      return input({ desired: desired([validEntry('web', { env: { LOG_LEVEL: 'debug' } })]), observed: observed([upToDateItem(old, C1, st)]), states: { web: st } });
    },
    instances: [{
      name: 'web', change: 'reconfigure', disruption: 'restart', actions: UPDATE, release: 'reuse v1.3.0', fromVersion: 'v1.3.0',
      reason: 'spec changed (', fields: [{ field: 'env.LOG_LEVEL', from: 'info', to: 'debug' }],
    }],
    summary: { change: 1 },
  },
  {
    name: 'health-only change on systemd: reload (rewrite config and unit), no stop or start',
    input: () => {
      const old = validEntry('web');
      const st = deployedState('web', old, C1);
      const next = validEntry('web', { health: { http: '/healthz', timeout: '30s', interval: '1s' } });
      return input({ desired: desired([next]), observed: observed([upToDateItem(old, C1, st)]), states: { web: st } });
    },
    instances: [{
      name: 'web', change: 'reconfigure', disruption: 'reload', actions: ['write-config', 'write-unit', 'verify-health'],
      fields: [{ field: 'health.http', from: '/health', to: '/healthz' }],
    }],
    actionTypes: ['write-config', 'write-unit', 'verify-health'],
    summary: { change: 1 },
  },
  {
    name: 'env emptied: one field per removed key, no spurious `env: {}` line',
    input: () => {
      const old = validEntry('web', { env: { LOG_LEVEL: 'info' } });
      const st = deployedState('web', old, C1);
      return input({ desired: desired([validEntry('web')]), observed: observed([upToDateItem(old, C1, st)]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'reconfigure', disruption: 'restart', actions: UPDATE, fields: [{ field: 'env.LOG_LEVEL', from: 'info' }] }],
    summary: { change: 1 },
  },
  {
    name: 'rollout-only change on tmux: reload too',
    input: () => {
      const old = validEntry('web', {}, 'tmux');
      const st = deployedState('web', old, C1);
      return input({ desired: desired([validEntry('web', { rollout: { autoRollback: false } }, 'tmux')]), observed: observed([upToDateItem(old, C1, st)]), states: { web: st } });
    },
    instances: [{
      name: 'web', change: 'reconfigure', disruption: 'reload', actions: ['write-config', 'create-session', 'verify-health'],
      fields: [{ field: 'rollout.autoRollback', from: true, to: false }],
    }],
    summary: { change: 1 },
  },
  {
    name: 'changed .env value: restart, field .env sensitive, the secret and its digests nowhere in the plan',
    input: () => {
      const entry = validEntry('web');
      const before = deployedState('web', entry, C1, digestOld, { keys: ['API_KEY'] });
      const now = instanceState('web', { keys: ['API_KEY'], digest: digestNew, applied: before.applied });
      return input({
        desired: desired([entry], { config: config({ source: { secrets: ['API_KEY'] } }) }),
        observed: observed([upToDateItem(entry, C1, before)]),
        states: { web: now },
      });
    },
    instances: [{ name: 'web', change: 'reconfigure', disruption: 'restart', actions: UPDATE, fields: [{ field: '.env', sensitive: true }] }],
    summary: { change: 1 },
    check: (p) => {
      const json = JSON.stringify(p);
      for (const secret of [secretOld, secretNew, digestOld, digestNew]) expect(json).not.toContain(secret);
    },
  },

  // ---- replace -------------------------------------------------------------
  {
    name: 'runtime tmux -> systemd: stop and delete the session, then create the unit; disruption replace',
    input: () => {
      const old = validEntry('web', {}, 'tmux');
      const st = deployedState('web', old, C1);
      return input({ desired: desired([validEntry('web')]), observed: observed([upToDateItem(old, C1, st)]), states: { web: st } });
    },
    instances: [{
      name: 'web', change: 'replace', disruption: 'replace', actions: ['stop', 'delete', ...WRITE_START], runtime: 'systemd',
      fromVersion: 'v1.3.0', fields: [{ field: 'runtime', from: 'tmux', to: 'systemd' }], reason: 'runtime changes from tmux to systemd',
    }],
    actions: [
      { id: 'web/stop@tmux', type: 'stop', dependsOn: [], runtime: 'tmux', target: 'oubliette-web' },
      { id: 'web/delete@tmux', type: 'delete', dependsOn: ['web/stop@tmux'], runtime: 'tmux', target: 'oubliette-web', disruption: 'delete' },
      { id: 'web/write-config', type: 'write-config', dependsOn: ['web/delete@tmux'] },
      { id: 'web/write-unit@systemd', type: 'write-unit', dependsOn: ['web/write-config'], runtime: 'systemd', target: 'oubliette-web.service' },
      { id: 'web/start@systemd', type: 'start', dependsOn: ['web/write-unit@systemd'] },
      { id: 'web/verify-health@systemd', type: 'verify-health', dependsOn: ['web/start@systemd'] },
    ],
    summary: { replace: 1 },
  },
  {
    name: 'up to date in systemd with a leftover stopped tmux session: delete the leftover only',
    input: () => {
      const entry = validEntry('web');
      return input({
        desired: desired([entry]),
        observed: observed([upToDateItem(entry, C1), observedItem('tmux', 'web', { state: 'stopped' })]),
      });
    },
    instances: [{ name: 'web', change: 'reconfigure', disruption: 'delete', actions: ['delete'], reason: 'also found in tmux' }],
    summary: { change: 1 },
  },

  // ---- held ----------------------------------------------------------------
  ...heldRows(),

  // ---- invalid file: back to the last healthy spec (issue 14, point 1) -----------
  ...invalidRestoreRows(),

  // ---- restart requests ------------------------------------------------------
  {
    name: 'restart requested after the process started: restart and verify health',
    input: () => {
      const entry = validEntry('web');
      const st = instanceState('web', { restartRequestedAt: '2024-05-02T12:00:00.000Z' });
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { startedAt: '2024-05-02T09:00:00.000Z' })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'restart', disruption: 'restart', actions: ['restart', 'verify-health'], reason: 'restart requested at 2024-05-02T12:00:00.000Z', release: null }],
    summary: { change: 1 },
  },
  {
    name: 'restart requested before the process started: unchanged',
    input: () => {
      const entry = validEntry('web');
      const st = deployedState('web', entry, C1, 'digest-empty', { restartRequestedAt: '2024-05-02T08:00:00.000Z' });
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { startedAt: '2024-05-02T09:00:00.000Z' })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'unchanged', disruption: 'none', actions: [], reason: 'up to date' }],
    actions: [],
    summary: { unchanged: 1 },
  },
  {
    name: 'restart requested at the instant the process started, written without milliseconds: unchanged (compared as times, not text)',
    input: () => {
      const entry = validEntry('web');
      const st = deployedState('web', entry, C1, 'digest-empty', { restartRequestedAt: '2024-05-02T09:00:00Z' });
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { startedAt: '2024-05-02T09:00:00.000Z' })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'unchanged', disruption: 'none', actions: [], reason: 'up to date' }],
    actions: [],
    summary: { unchanged: 1 },
  },
  {
    name: 'restart requested after the start, one millisecond: restart',
    input: () => {
      const entry = validEntry('web');
      const st = deployedState('web', entry, C1, 'digest-empty', { restartRequestedAt: '2024-05-02T09:00:00.001Z' });
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { startedAt: '2024-05-02T09:00:00Z' })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'restart', disruption: 'restart', actions: ['restart', 'verify-health'], reason: 'restart requested at 2024-05-02T09:00:00.001Z' }],
    summary: { change: 1 },
  },
  {
    name: 'restart requested, but the instance is stopped as desired (state: stopped): nothing to restart',
    input: () => {
      const entry = validEntry('web', { state: 'stopped' });
      const st = deployedState('web', entry, C1, 'digest-empty', { restartRequestedAt: '2024-05-02T12:00:00.000Z' });
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { state: 'stopped', startedAt: '2024-05-02T09:00:00.000Z' })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'unchanged', disruption: 'none', actions: [], reason: 'stopped, as desired' }],
    actions: [],
    summary: { unchanged: 1 },
  },
  {
    name: 'restart requested while state: stopped and the process still runs: stopped, not restarted',
    input: () => {
      const entry = validEntry('web', { state: 'stopped' });
      const st = deployedState('web', entry, C1, 'digest-empty', { restartRequestedAt: '2024-05-02T12:00:00.000Z' });
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { startedAt: '2024-05-02T09:00:00.000Z' })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'stop', disruption: 'stop', actions: ['stop'], reason: 'state: stopped' }],
    summary: { change: 1 },
  },
  {
    name: 'restart requested while the process is stopped (state: running): started, not restarted',
    input: () => {
      const entry = validEntry('web');
      const st = deployedState('web', entry, C1, 'digest-empty', { restartRequestedAt: '2024-05-02T12:00:00.000Z' });
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { state: 'stopped', startedAt: '2024-05-02T09:00:00.000Z' })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'start', disruption: 'none', actions: ['start', 'verify-health'], reason: 'oubliette-web.service is stopped' }],
    summary: { change: 1 },
  },
  {
    name: 'runs the desired spec but no status.json records it as applied (crash before the health check): verify health only',
    input: () => {
      const entry = validEntry('web');
      const st = instanceState('web');
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st)]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: ['verify-health'], reason: 'not yet verified healthy' }],
    summary: { create: 1 },
  },
  {
    name: 'runs the desired v1.3.0 spec, status.json records v1.2.0 as applied: an update to verify',
    input: () => {
      const entry = validEntry('web');
      const st = deployedState('web', validEntry('web', { version: 'v1.2.0' }), C0, 'digest-empty');
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st)]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'update', disruption: 'none', actions: ['verify-health'] }],
    summary: { update: 1 },
  },
  {
    name: 'runs the desired spec, status.json records another spec of the same version as applied: a reconfigure to verify',
    input: () => {
      const entry = validEntry('web', { env: { LOG_LEVEL: 'debug' } });
      const st = deployedState('web', validEntry('web', { env: { LOG_LEVEL: 'info' } }), C1, 'digest-empty');
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st)]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'reconfigure', disruption: 'none', actions: ['verify-health'], reason: 'not yet verified healthy' }],
    summary: { change: 1 },
  },
  {
    name: 'made from the desired spec, never verified, and stopped (killed between writing the unit and starting it): start and verify, still a create',
    input: () => {
      const entry = validEntry('web');
      const st = instanceState('web');
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { state: 'stopped' })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: ['start', 'verify-health'], reason: 'oubliette-web.service is stopped' }],
    summary: { create: 1 },
  },
  {
    name: 'an update that died before its health check (failed, never verified): start and verify as the update, no crash record or backoff',
    input: () => {
      const entry = validEntry('web');
      const st = deployedState('web', validEntry('web', { version: 'v1.2.0' }), C0, 'digest-empty');
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { state: 'failed', exitStatus: 1 })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'update', disruption: 'none', actions: ['start', 'verify-health'], reason: 'oubliette-web.service is failed' }],
    summary: { update: 1 },
    check: (p) => expect(loose(p.actions)[0]).not.toHaveProperty('crash'),
  },

  // ---- desired state ---------------------------------------------------------
  {
    name: 'state: stopped and the unit (made from this spec) runs: stop, disruption stop',
    input: () => {
      const entry = validEntry('web', { state: 'stopped' });
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1)]) });
    },
    instances: [{ name: 'web', change: 'stop', disruption: 'stop', actions: ['stop'], reason: 'state: stopped' }],
    summary: { change: 1 },
  },
  {
    name: 'file edited to state: stopped while running: stop (and restamp the unit), disruption stop, not restart',
    input: () => {
      const old = validEntry('web');
      const st = deployedState('web', old, C1);
      return input({ desired: desired([validEntry('web', { state: 'stopped' })]), observed: observed([upToDateItem(old, C1, st)]), states: { web: st } });
    },
    instances: [{
      name: 'web', change: 'stop', disruption: 'stop', actions: ['stop', 'write-config', 'write-unit'],
      fields: [{ field: 'state', from: 'running', to: 'stopped' }],
    }],
    summary: { change: 1 },
  },
  {
    name: 'file edited to state: running while stopped: start (after restamping the unit)',
    input: () => {
      const old = validEntry('web', { state: 'stopped' });
      const st = deployedState('web', old, C1);
      return input({ desired: desired([validEntry('web')]), observed: observed([upToDateItem(old, C1, st, { state: 'stopped' })]), states: { web: st } });
    },
    instances: [{
      name: 'web', change: 'start', disruption: 'none', actions: WRITE_START,
      fields: [{ field: 'state', from: 'stopped', to: 'running' }],
    }],
    summary: { change: 1 },
  },
  {
    name: 'state: stopped, the unit runs anyway and a tend-only field changed: stop, not a reload that leaves it running',
    input: () => {
      const old = validEntry('web', { state: 'stopped' });
      const st = deployedState('web', old, C1);
      const next = validEntry('web', { state: 'stopped', health: { tcp: true, timeout: '30s', interval: '1s' } });
      return input({ desired: desired([next]), observed: observed([upToDateItem(old, C1, st)]), states: { web: st } });
    },
    instances: [{
      name: 'web', change: 'reconfigure', disruption: 'stop', actions: ['stop', 'write-config', 'write-unit'],
      fields: [{ field: 'health.http', from: '/health' }, { field: 'health.tcp', to: true }],
    }],
    summary: { change: 1 },
  },
  {
    name: 'state: stopped and the unit is stopped and up to date: unchanged',
    input: () => {
      const entry = validEntry('web', { state: 'stopped' });
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, undefined, { state: 'stopped' })]) });
    },
    instances: [{ name: 'web', change: 'unchanged', disruption: 'none', actions: [], reason: 'stopped, as desired' }],
    actions: [],
    summary: { unchanged: 1 },
  },
  {
    name: 'state: stopped with a leftover running tmux session from a runtime move: the leftover is stopped and removed',
    input: () => {
      const entry = validEntry('web', { state: 'stopped' });
      return input({
        desired: desired([entry]),
        observed: observed([upToDateItem(entry, C1, undefined, { state: 'stopped' }), observedItem('tmux', 'web', { state: 'running' })]),
      });
    },
    instances: [{ name: 'web', change: 'reconfigure', disruption: 'delete', actions: ['stop', 'delete'], reason: 'also found in tmux' }],
    actions: [
      { id: 'web/stop@tmux', type: 'stop', dependsOn: [], runtime: 'tmux', target: 'oubliette-web' },
      { id: 'web/delete@tmux', type: 'delete', dependsOn: ['web/stop@tmux'], runtime: 'tmux', target: 'oubliette-web', disruption: 'delete' },
    ],
    summary: { change: 1 },
  },
  {
    name: 'state: running and the up-to-date unit failed: start and verify health',
    input: () => {
      const entry = validEntry('web');
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, undefined, { state: 'failed' })]) });
    },
    instances: [{ name: 'web', change: 'start', disruption: 'none', actions: ['start', 'verify-health'], reason: 'oubliette-web.service died (failed)' }],
    summary: { change: 1 },
    check: (p) => expect(loose(p.actions)[0]).toMatchObject({ type: 'start', crash: { specHash: expect.any(String) } }),
  },
  {
    name: 'a process that died again after 2 recorded restarts: restart with backoff (notBefore = last restart + 2s), exit status named',
    input: () => {
      const entry = validEntry('web');
      const st0 = deployedState('web', entry, C1, '');
      const h = hashOf(entry, C1, st0);
      const st = deployedState('web', entry, C1, '', {});
      st.crashes = [{ at: '2024-05-02T10:00:00.000Z', specHash: h, exitStatus: 1 }, { at: '2024-05-02T10:00:05.000Z', specHash: h, exitStatus: 1 }];
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { state: 'failed', exitStatus: 3 })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'start', disruption: 'none', actions: ['start', 'verify-health'], reason: 'oubliette-web.service died (exit status 3)' }],
    summary: { change: 1 },
    check: (p) => expect(loose(p.actions)[0]).toMatchObject({ notBefore: '2024-05-02T10:00:07.000Z', reason: expect.stringContaining('backoff 2s') }),
  },
  {
    name: 'a crash loop (5 exits of one spec within 60s): Degraded, held, no restart until the file changes',
    input: () => {
      const entry = validEntry('web');
      const h = hashOf(entry, C1, deployedState('web', entry, C1, ''));
      const st = deployedState('web', entry, C1, '');
      st.crashes = [0, 10, 20, 30].map((s) => ({ at: new Date(Date.parse('2024-05-02T10:00:00Z') + s * 1000).toISOString(), specHash: h, exitStatus: 1 }));
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { state: 'failed', exitSignal: 'SIGSEGV' })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'held', disruption: 'none', actions: [], phase: 'Degraded', reason: 'crash loop: 5 exits within 60s (last: killed by SIGSEGV)' }],
    actions: [],
    summary: { held: 1 },
  },
  {
    name: 'the same crashes recorded for another spec (the file changed since): restarted at once',
    input: () => {
      const entry = validEntry('web');
      const st = deployedState('web', entry, C1, '');
      st.crashes = [0, 10, 20, 30].map((s) => ({ at: new Date(Date.parse('2024-05-02T10:00:00Z') + s * 1000).toISOString(), specHash: 'e'.repeat(64), exitStatus: 1 }));
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, st, { state: 'failed', exitStatus: 1 })]), states: { web: st } });
    },
    instances: [{ name: 'web', change: 'start', disruption: 'none', actions: ['start', 'verify-health'] }],
    summary: { change: 1 },
    check: (p) => expect(loose(p.actions)[0]!.notBefore).toBeUndefined(),
  },
  {
    name: 'state: running and the up-to-date unit is stopped: start',
    input: () => {
      const entry = validEntry('web');
      return input({ desired: desired([entry]), observed: observed([upToDateItem(entry, C1, undefined, { state: 'stopped' })]) });
    },
    instances: [{ name: 'web', change: 'start', disruption: 'none', actions: ['start', 'verify-health'] }],
    summary: { change: 1 },
  },

  // ---- platform, runtime availability, secrets ---------------------------------
  {
    name: 'launchd on a linux host: blocked with an error at the runtime line',
    input: () => input({ desired: desired([validEntry('web', {}, 'launchd')]) }),
    instances: [{ name: 'web', change: 'blocked', disruption: 'none', actions: [], runtime: 'launchd' }],
    actions: [],
    summary: { blocked: 1 },
    diagnostics: [{ severity: 'error', message: 'runtime launchd needs macOS; this host is linux', file: 'desired/web.yaml', line: 3 }],
  },
  {
    name: 'launchd on darwin: planned',
    input: () => input({ desired: desired([validEntry('web', {}, 'launchd')]), observed: observed([], { platform: 'darwin' }) }),
    instances: [{ name: 'web', change: 'create', disruption: 'none', actions: WRITE_START, runtime: 'launchd' }],
    summary: { create: 1 },
    check: (p) => expect(loose(p.actions).find((a) => a.type === 'write-unit')).toMatchObject({ runtime: 'launchd', target: 'dev.tend.oubliette-web' }),
  },
  {
    name: 'runtime unavailable (Docker engine down): blocked with a warning, nothing planned',
    input: () => input({
      desired: desired([validEntry('web', {}, 'docker'), validEntry('api', { port: 8081 })]),
      observed: observed([], { unavailable: { docker: 'Cannot connect to the Docker daemon' } }),
    }),
    instances: [
      { name: 'api', change: 'create', disruption: 'none', actions: WRITE_START },
      { name: 'web', change: 'blocked', disruption: 'none', actions: [], reason: 'cannot observe docker (Cannot connect to the Docker daemon); nothing planned for web' },
    ],
    summary: { create: 1, blocked: 1 },
    diagnostics: [{ severity: 'warning', message: 'cannot observe docker (Cannot connect to the Docker daemon)', file: 'desired/web.yaml', line: 3 }],
    check: (p) => expect(loose(p.actions).filter((a) => a.instance === 'web')).toEqual([]),
  },
  {
    name: 'missing required secret from source.secrets: blocked, error naming the secret',
    input: () => input({
      desired: desired([validEntry('web')], { config: config({ source: { secrets: ['FACTORY_API_KEY'] } }) }),
      states: { web: instanceState('web', { keys: ['OTHER_KEY'] }) },
    }),
    instances: [{ name: 'web', change: 'blocked', disruption: 'none', actions: [], reason: 'secret FACTORY_API_KEY missing from instances/web/.env' }],
    actions: [],
    summary: { blocked: 1 },
    diagnostics: [{ severity: 'error', message: 'secret FACTORY_API_KEY missing from instances/web/.env', file: 'desired/web.yaml' }],
  },
  {
    name: 'missing secrets from tend.yaml and from the file: all named, sorted',
    input: () => input({
      desired: desired([validEntry('web', { secrets: ['DB_PASSWORD'] })], { config: config({ source: { secrets: ['FACTORY_API_KEY'] } }) }),
      states: { web: instanceState('web', { keys: [] }) },
    }),
    instances: [{ name: 'web', change: 'blocked', disruption: 'none', actions: [] }],
    summary: { blocked: 1 },
    diagnostics: [{ severity: 'error', message: 'secrets DB_PASSWORD, FACTORY_API_KEY missing from instances/web/.env' }],
  },

  // ---- ownership -------------------------------------------------------------
  {
    name: 'unowned things are reported as orphans (not owned), never acted on, even with prune and force',
    input: () => input({
      desired: desired([validEntry('api')], { config: config({ prune: { deleteRemoved: true } }) }),
      observed: observed([
        observedItem('docker', 'redis', { id: 'redis', owned: false, version: '7.2' }),
        observedItem('tmux', 'scratch', { id: 'scratch', owned: false }),
      ]),
      options: { prune: true, force: true },
    }),
    instances: [
      { name: 'api', change: 'create', disruption: 'none', actions: WRITE_START },
      { name: 'redis', change: 'orphan', disruption: 'none', actions: ['orphan'], runtime: 'docker', version: '7.2', reason: 'found container redis, not owned by tend' },
      { name: 'scratch', change: 'orphan', disruption: 'none', actions: ['orphan'], runtime: 'tmux', reason: 'not owned by tend' },
    ],
    summary: { create: 1, orphan: 2 },
    check: (p) => {
      expect(loose(p.actions).filter((a) => a.target === 'redis' || a.target === 'scratch')).toEqual([
        expect.objectContaining({ id: 'docker:redis/orphan@docker', type: 'orphan', reason: expect.stringContaining('not owned by tend') }),
        expect.objectContaining({ id: 'tmux:scratch/orphan@tmux', type: 'orphan', reason: expect.stringContaining('not owned by tend') }),
      ]);
    },
  },
  {
    name: 'an unowned unit already has the name a desired instance needs: blocked, never overwritten',
    input: () => input({
      desired: desired([validEntry('web')]),
      observed: observed([observedItem('systemd', 'web', { owned: false })]),
    }),
    instances: [
      { name: 'web', change: 'blocked', disruption: 'none', actions: [], runtime: 'systemd', reason: 'systemd unit oubliette-web.service exists and is not owned by tend' },
      { name: 'web', change: 'orphan', disruption: 'none', actions: ['orphan'], runtime: 'systemd', reason: 'not owned by tend' },
    ],
    actionTypes: ['orphan'],
    summary: { blocked: 1, orphan: 1 },
    diagnostics: [{ severity: 'error', message: 'systemd unit oubliette-web.service exists and is not owned by tend', file: 'desired/web.yaml', line: 3 }],
  },
];

function heldRows(): Row[] {
  const at = '2024-05-01T10:00:00Z';
  const next = validEntry('web', { version: 'v2.0.0' });
  const rels = () => standardReleases({ resolutions: { 'v2.0.0': resolved('v2.0.0', C2) }, built: [built('v2.0.0', C2)] });
  // Rolled back: v1.3.0 runs; v2.0.0 with this exact spec failed its health check and is held.
  const setup = (desiredEntry = next, force = false): PlanInput => {
    const running = validEntry('web');
    const base = deployedState('web', running, C1);
    const held = { version: 'v2.0.0', specHash: hashOf(next, C2, base), at, reason: 'GET /health returned 503' };
    const st = deployedState('web', running, C1, 'digest-empty', { held, phase: 'RolledBack' });
    return input({
      desired: desired([desiredEntry]), observed: observed([upToDateItem(running, C1, st)]), releases: rels(), states: { web: st },
      ...(force ? { options: { force: true } } : {}),
    });
  };
  return [
    {
      name: 'held: the desired hash is the held one: held, no actions',
      input: () => setup(),
      instances: [{
        name: 'web', change: 'held', disruption: 'none', actions: [], version: 'v2.0.0', phase: 'RolledBack',
        reasonStartsWith: `held: v2.0.0 failed health at ${at}`, reason: 'tend retry web',
      }],
      actions: [],
      summary: { held: 1 },
    },
    {
      name: 'held with --force: planned as a normal update',
      input: () => setup(next, true),
      instances: [{ name: 'web', change: 'update', disruption: 'restart', actions: UPDATE, fromVersion: 'v1.3.0', version: 'v2.0.0' }],
      summary: { update: 1 },
    },
    {
      name: 'held, but the file was edited since (another hash): not held, planned',
      input: () => setup(validEntry('web', { version: 'v2.0.0', env: { FIX: '1' } })),
      instances: [{
        name: 'web', change: 'update', disruption: 'restart', actions: UPDATE,
        fields: [{ field: 'version', from: 'v1.3.0', to: 'v2.0.0' }, { field: 'env.FIX', to: '1' }],
      }],
      summary: { update: 1 },
    },
    {
      name: 'held while the failed v2.0.0 spec is still installed: roll back to the applied v1.3.0 (actions from applied)',
      input: () => {
        const running = validEntry('web');
        const base = deployedState('web', running, C1, '');
        const held = { version: 'v2.0.0', specHash: hashOf(next, C2, base), at, reason: 'Health check timeout' };
        const st = deployedState('web', running, C1, '', { held, phase: 'Progressing' });
        return input({ desired: desired([next]), observed: observed([upToDateItem(next, C2, st)]), releases: rels(), states: { web: st } });
      },
      instances: [{
        name: 'web', change: 'rollback', disruption: 'restart', actions: UPDATE, version: 'v1.3.0', fromVersion: 'v2.0.0',
        reasonStartsWith: 'roll back to v1.3.0: v2.0.0 failed health (Health check timeout)',
      }],
      summary: { update: 1 },
      check: (p, i) => {
        const applied = i.states.web!.applied!;
        for (const a of p.actions) expect(a).toMatchObject({ from: 'applied', change: 'rollback' });
        expect(loose(p.actions).find((a) => a.type === 'write-unit')).toMatchObject({ version: 'v1.3.0', specHash: applied.specHash });
      },
    },
    {
      name: 'held after a first start that never turned healthy (nothing applied before): stop it',
      input: () => {
        const st0 = instanceState('web', { digest: '' });
        const held = { version: 'v2.0.0', specHash: hashOf(next, C2, st0), at, reason: 'Health check timeout' };
        const st = instanceState('web', { digest: '', held, phase: 'Progressing' });
        return input({ desired: desired([next]), observed: observed([upToDateItem(next, C2, st)]), releases: rels(), states: { web: st } });
      },
      instances: [{ name: 'web', change: 'stop', disruption: 'stop', actions: ['stop'], reasonStartsWith: `held: v2.0.0 failed health at ${at}` }],
      summary: { change: 1 },
    },
    {
      name: 'held after a first start that never turned healthy, already stopped by a run killed before recording it (still Progressing): held, phase Failed, nothing to do',
      input: () => {
        const st0 = instanceState('web', { digest: '' });
        const held = { version: 'v2.0.0', specHash: hashOf(next, C2, st0), at, reason: 'Health check timeout' };
        const st = instanceState('web', { digest: '', held, phase: 'Progressing' });
        return input({ desired: desired([next]), observed: observed([upToDateItem(next, C2, st, { state: 'stopped' })]), releases: rels(), states: { web: st } });
      },
      instances: [{
        name: 'web', change: 'held', disruption: 'none', actions: [], version: 'v2.0.0', phase: 'Failed',
        reasonStartsWith: `held: v2.0.0 failed health at ${at}`, reason: 'not running',
      }],
      actions: [],
      summary: { held: 1 },
    },
    {
      name: 'a rollback still Progressing (cut short by a crash) gets verify-health with change rollback',
      input: () => {
        const running = validEntry('web');
        const base = deployedState('web', running, C1, '');
        const held = { version: 'v2.0.0', specHash: hashOf(next, C2, base), at, reason: 'Health check timeout' };
        const st = deployedState('web', running, C1, '', { held, phase: 'Progressing' });
        // The rollback already runs v1.3.0 again; the run was killed before recording it RolledBack.
        return input({ desired: desired([next]), observed: observed([upToDateItem(running, C1, st)]), releases: rels(), states: { web: st } });
      },
      instances: [{
        name: 'web', change: 'rollback', disruption: 'none', actions: ['verify-health'], version: 'v1.3.0', fromVersion: 'v2.0.0',
        reasonStartsWith: 'roll back to v1.3.0: v2.0.0 failed health (Health check timeout)', release: null,
      }],
      summary: { update: 1 },
      check: (p, i) => {
        expect(p.actions).toHaveLength(1);
        expect(loose(p.actions)[0]).toMatchObject({
          id: 'web/verify-health@systemd', type: 'verify-health', change: 'rollback', from: 'applied', specHash: i.states.web!.applied!.specHash, dependsOn: [],
        });
      },
    },
    {
      name: 'a rollback cut short after rewriting the unit (the applied v1.3.0 unit is stopped, still Progressing): start and verify, change rollback',
      input: () => {
        const running = validEntry('web');
        const base = deployedState('web', running, C1, '');
        const held = { version: 'v2.0.0', specHash: hashOf(next, C2, base), at, reason: 'Health check timeout' };
        const st = deployedState('web', running, C1, '', { held, phase: 'Progressing' });
        return input({ desired: desired([next]), observed: observed([upToDateItem(running, C1, st, { state: 'stopped' })]), releases: rels(), states: { web: st } });
      },
      instances: [{ name: 'web', change: 'rollback', disruption: 'none', actions: ['start', 'verify-health'], version: 'v1.3.0', fromVersion: 'v2.0.0' }],
      summary: { update: 1 },
      check: (p, i) => {
        for (const a of p.actions) expect(a).toMatchObject({ from: 'applied', change: 'rollback', specHash: i.states.web!.applied!.specHash });
        expect(loose(p.actions)[0]!.crash).toBeUndefined();
      },
    },
    {
      name: 'held after a failed rollback (phase Failed): nothing further is changed',
      input: () => {
        const running = validEntry('web');
        const base = deployedState('web', running, C1, '');
        const held = { version: 'v2.0.0', specHash: hashOf(next, C2, base), at, reason: 'Health check timeout' };
        const st = deployedState('web', running, C1, '', { held, phase: 'Failed' });
        return input({ desired: desired([next]), observed: observed([upToDateItem(next, C2, st, { state: 'failed' })]), releases: rels(), states: { web: st } });
      },
      instances: [{ name: 'web', change: 'held', disruption: 'none', actions: [], phase: 'Failed' }],
      actions: [],
      summary: { held: 1 },
    },
    ...rolledBackUpkeepRows(),
    ...autoRollbackOffRows(),
  ];
}

/**
 * An invalid desired file while what runs is not the last healthy spec on record (v1.2.0, commit C0): an
 * update cut short (stopped, unit rewritten, new version started and not verified) or a restore cut short.
 * The plan puts v1.2.0 back, every action `from: applied`, the instance still `invalid` / InvalidSpec.
 */
function invalidRestoreRows(): Row[] {
  const good = validEntry('web', { version: 'v1.2.0' });
  const next = validEntry('web', { version: 'v1.3.0' });
  const setup = (item: (st: InstanceState) => ReturnType<typeof observedItem> | undefined, phase: Phase = 'Progressing', opts: { rel?: PlanInput['releases']; unavailable?: boolean } = {}): PlanInput => {
    const st = deployedState('web', good, C0, 'digest-empty', { phase });
    const it = item(st);
    return input({
      desired: desired([invalidEntry('web')]),
      observed: opts.unavailable ? observed([], { unavailable: { systemd: 'Failed to connect to bus' } }) : observed(it ? [it] : []),
      releases: opts.rel ?? standardReleases(), states: { web: st },
    });
  };
  const goodItem = (state: 'running' | 'stopped' | 'failed') => (st: InstanceState) => upToDateItem(good, C0, st, { state });
  const nextItem = (state: 'running' | 'stopped') => (st: InstanceState) => upToDateItem(next, C1, st, { state });
  const restored = (p: Plan, i: PlanInput) => {
    expect(p.actions.length).toBeGreaterThan(0);
    for (const a of loose(p.actions).filter((x) => x.type !== 'build-release')) {
      expect(a).toMatchObject({ from: 'applied', instance: 'web', specHash: i.states.web!.applied!.specHash });
      if (a.version !== undefined) expect(a.version).toBe('v1.2.0');
    }
    expect(p.diagnostics.map((d) => d.message)).toEqual(['port must be <= 65535']);
  };
  const restore = 'desired/web.yaml has errors; restore v1.2.0, the last healthy spec: ';
  const diagnostics = [{ severity: 'error' as const, message: 'port must be <= 65535', file: 'desired/web.yaml', line: 4 }];
  return [
    {
      name: 'invalid file, update cut short after the stop (the last healthy unit stopped): started again and verified, InvalidSpec',
      input: () => setup(goodItem('stopped')),
      instances: [{
        name: 'web', change: 'invalid', disruption: 'none', actions: ['start', 'verify-health'], phase: 'InvalidSpec', version: 'v1.2.0',
        reason: `${restore}oubliette-web.service is stopped`,
      }],
      summary: { invalid: 1 }, diagnostics, check: restored,
    },
    {
      name: 'invalid file, update cut short after the unit was rewritten (new spec, not started): the last healthy spec written back and started',
      input: () => setup(nextItem('stopped')),
      instances: [{
        name: 'web', change: 'invalid', disruption: 'none', actions: WRITE_START, phase: 'InvalidSpec', version: 'v1.2.0', fromVersion: 'v1.3.0',
        reason: `${restore}version v1.3.0 -> v1.2.0`,
      }],
      summary: { invalid: 1 }, diagnostics, check: restored,
    },
    {
      name: 'invalid file, new version running but not verified (update cut short in its health wait): rolled back to the last healthy spec',
      input: () => setup(nextItem('running')),
      instances: [{
        name: 'web', change: 'invalid', disruption: 'restart', actions: UPDATE, phase: 'InvalidSpec', version: 'v1.2.0', fromVersion: 'v1.3.0',
        reason: `${restore}version v1.3.0 -> v1.2.0`, someFields: [{ field: 'version', from: 'v1.3.0', to: 'v1.2.0' }],
      }],
      summary: { invalid: 1 }, diagnostics, check: restored,
    },
    {
      name: 'invalid file, update cut short before the stop (the last healthy spec still runs, phase Progressing): its health checked again, nothing restarted',
      input: () => setup(goodItem('running')),
      instances: [{
        name: 'web', change: 'invalid', disruption: 'none', actions: ['verify-health'], phase: 'InvalidSpec', version: 'v1.2.0',
        reason: `${restore}running the last healthy spec, not yet verified healthy`,
      }],
      summary: { invalid: 1 }, diagnostics, check: restored,
    },
    {
      name: 'invalid file, the last healthy spec runs and was verified (phase Ready): nothing, it keeps running',
      input: () => setup(goodItem('running'), 'Ready'),
      instances: [{ name: 'web', change: 'invalid', disruption: 'none', actions: [], phase: 'InvalidSpec', reason: 'desired/web.yaml has errors; oubliette-web.service (v1.2.0) keeps running' }],
      actions: [], summary: { invalid: 1 }, diagnostics,
    },
    {
      name: 'invalid file, the last healthy spec restored earlier (phase InvalidSpec) and still running: nothing',
      input: () => setup(goodItem('running'), 'InvalidSpec'),
      instances: [{ name: 'web', change: 'invalid', disruption: 'none', actions: [], phase: 'InvalidSpec', reason: 'keeps running' }],
      actions: [], summary: { invalid: 1 }, diagnostics,
    },
    {
      name: 'invalid file, nothing of the instance left (unit removed mid-update): made again from the last healthy spec',
      input: () => setup(() => undefined),
      instances: [{ name: 'web', change: 'invalid', disruption: 'none', actions: WRITE_START, phase: 'InvalidSpec', version: 'v1.2.0', reason: `${restore}systemd unit oubliette-web.service is missing` }],
      summary: { invalid: 1 }, diagnostics, check: restored,
    },
    {
      name: 'invalid file, the last healthy release is gone from disk: rebuilt from its recorded commit, then restored',
      input: () => setup(nextItem('running'), 'Progressing', { rel: releases({ resolutions: { 'v1.3.0': resolved('v1.3.0', C1) }, built: [built('v1.3.0', C1)] }) }),
      instances: [{
        name: 'web', change: 'invalid', disruption: 'rebuild+restart', actions: UPDATE, phase: 'InvalidSpec', version: 'v1.2.0', release: 'build v1.2.0 (commit 0000000',
      }],
      actionTypes: ['build-release', ...UPDATE],
      summary: { invalid: 1 }, diagnostics,
      check: (p, i) => {
        restored(p, i);
        expect(p.actions[0]).toMatchObject({ type: 'build-release', version: 'v1.2.0', commit: C0 });
      },
    },
    {
      name: 'invalid file, no applied spec on record (never healthy): nothing is changed, nothing started',
      input: () => input({ desired: desired([invalidEntry('web')]), observed: observed([upToDateItem(next, C1, undefined, { state: 'stopped' })]), states: { web: instanceState('web', { phase: 'Progressing' }) } }),
      instances: [{ name: 'web', change: 'invalid', disruption: 'none', actions: [], phase: 'InvalidSpec', reason: 'desired/web.yaml has errors; nothing is changed' }],
      actions: [], summary: { invalid: 1 }, diagnostics,
    },
    {
      name: 'invalid file, its runtime not observable: nothing planned, no diagnostic beyond the file\'s',
      input: () => setup(() => undefined, 'Progressing', { unavailable: true }),
      instances: [{ name: 'web', change: 'invalid', disruption: 'none', actions: [], phase: 'InvalidSpec', reason: 'nothing is changed' }],
      actions: [], summary: { invalid: 1 }, diagnostics,
    },
  ];
}

/** Rolled back and verified (phase RolledBack): v1.3.0, the applied spec, runs; v2.0.0 is held. Upkeep of v1.3.0 is no rollback. */
function rolledBackUpkeepRows(): Row[] {
  const at = '2024-05-01T10:00:00Z';
  const next = validEntry('web', { version: 'v2.0.0' });
  const running = validEntry('web');
  const setup = (item: Parameters<typeof upToDateItem>[3], extra: Parameters<typeof instanceState>[1] = {}, crashes = 0): PlanInput => {
    const base = deployedState('web', running, C1, '');
    const held = { version: 'v2.0.0', specHash: hashOf(next, C2, base), at, reason: 'Health check timeout' };
    const st = deployedState('web', running, C1, '', { held, phase: 'RolledBack', ...extra });
    const h = st.applied!.specHash;
    if (crashes > 0) st.crashes = [0, 10, 20, 30].slice(0, crashes).map((s) => ({ at: new Date(Date.parse('2024-05-02T10:00:00Z') + s * 1000).toISOString(), specHash: h, exitStatus: 1 }));
    return input({
      desired: desired([next]), observed: observed([upToDateItem(running, C1, st, item)]),
      releases: standardReleases({ resolutions: { 'v2.0.0': resolved('v2.0.0', C2) }, built: [built('v2.0.0', C2)] }), states: { web: st },
    });
  };
  /** Every action puts back the applied v1.3.0 spec under the plan's own change (never `rollback`), and nothing is built. */
  const fromApplied = (change: Change) => (p: Plan, i: PlanInput) => {
    expect(p.actions.length).toBeGreaterThan(0);
    for (const a of p.actions) expect(a).toMatchObject({ from: 'applied', change, specHash: i.states.web!.applied!.specHash });
    expect(loose(p.actions).find((a) => a.version === 'v2.0.0' || a.type === 'build-release')).toBeUndefined();
  };
  return [
    {
      name: 'rolled back, then its process died: restarted like any dead process (start from applied, crash recorded, no backoff yet), not another rollback; phase RolledBack, v2.0.0 stays held',
      input: () => setup({ state: 'failed', exitSignal: 'SIGKILL' }),
      instances: [{
        name: 'web', change: 'start', disruption: 'none', actions: ['start', 'verify-health'], version: 'v1.3.0', phase: 'RolledBack', release: null,
        reason: 'oubliette-web.service died (killed by SIGKILL); rolled back to v1.3.0, v2.0.0 stays held',
      }],
      summary: { change: 1 },
      check: (p, i) => {
        fromApplied('start')(p, i);
        expect(loose(p.actions)[0]).toMatchObject({ type: 'start', crash: { specHash: i.states.web!.applied!.specHash, exitSignal: 'SIGKILL' } });
        expect(loose(p.actions)[0]!.notBefore).toBeUndefined();
      },
    },
    {
      name: 'rolled back, died again after 2 recorded restarts of the applied spec: backoff 2s (notBefore = last restart + 2s), still v1.3.0',
      input: () => setup({ state: 'failed', exitStatus: 3 }, {}, 2),
      instances: [{ name: 'web', change: 'start', disruption: 'none', actions: ['start', 'verify-health'], version: 'v1.3.0', phase: 'RolledBack', reason: 'died (exit status 3)' }],
      summary: { change: 1 },
      check: (p, i) => {
        fromApplied('start')(p, i);
        expect(loose(p.actions)[0]).toMatchObject({ notBefore: '2024-05-02T10:00:12.000Z', reason: expect.stringContaining('backoff 2s'), crash: { exitStatus: 3 } });
      },
    },
    {
      name: 'rolled back, then a crash loop of the applied spec (5 exits within 60s): Degraded, not restarted, and not the held v2.0.0 either',
      input: () => setup({ state: 'failed', exitStatus: 1 }, {}, 4),
      instances: [{
        name: 'web', change: 'held', disruption: 'none', actions: [], version: 'v1.3.0', phase: 'Degraded',
        reasonStartsWith: 'crash loop: 5 exits within 60s (last: exit status 1)', reason: 'rolled back to v1.3.0, v2.0.0 stays held',
      }],
      actions: [],
      summary: { held: 1 },
    },
    {
      name: 'rolled back, then stopped outside tend: started again from applied without a crash record, not another rollback',
      input: () => setup({ state: 'stopped' }),
      instances: [{ name: 'web', change: 'start', disruption: 'none', actions: ['start', 'verify-health'], version: 'v1.3.0', phase: 'RolledBack', reason: 'oubliette-web.service is stopped' }],
      summary: { change: 1 },
      check: (p, i) => {
        fromApplied('start')(p, i);
        expect(loose(p.actions)[0]!.crash).toBeUndefined();
      },
    },
    {
      name: 'rolled back, then a restart requested: the applied v1.3.0 is restarted (change restart, from applied), not another rollback',
      input: () => setup({ startedAt: '2024-05-02T09:00:00.000Z' }, { restartRequestedAt: '2024-05-02T12:00:00.000Z' }),
      instances: [{
        name: 'web', change: 'restart', disruption: 'restart', actions: ['restart', 'verify-health'], version: 'v1.3.0', phase: 'RolledBack',
        reason: 'restart requested at 2024-05-02T12:00:00.000Z; rolled back to v1.3.0, v2.0.0 stays held',
      }],
      summary: { change: 1 },
      check: fromApplied('restart'),
    },
  ];
}

/** rollout.autoRollback: false, and the update to v2.0.0 failed its health check (held); v2.0.0 still runs. */
function autoRollbackOffRows(): Row[] {
  const at = '2024-05-01T10:00:00Z';
  const off = { rollout: { autoRollback: false } };
  const next = validEntry('web', { version: 'v2.0.0', ...off });
  const setup = (phase: Phase): PlanInput => {
    const base = deployedState('web', validEntry('web', off), C1, '');
    const held = { version: 'v2.0.0', specHash: hashOf(next, C2, base), at, reason: 'Health check timeout after 30s: HTTP 500 from /health' };
    const st = deployedState('web', validEntry('web', off), C1, '', { held, phase });
    return input({
      desired: desired([next]), observed: observed([upToDateItem(next, C2, st)]),
      releases: standardReleases({ resolutions: { 'v2.0.0': resolved('v2.0.0', C2) }, built: [built('v2.0.0', C2)] }), states: { web: st },
    });
  };
  const message = 'v2.0.0 failed health: Health check timeout after 30s: HTTP 500 from /health (rollout.autoRollback is off: not rolled back)';
  return (['Progressing', 'Failed'] as const).map((phase): Row => ({
    name: `held with rollout.autoRollback off, v2.0.0 still running (status ${phase}): held, phase Failed with the reason, not rolled back, not stopped`,
    input: () => setup(phase),
    instances: [{
      name: 'web', change: 'held', disruption: 'none', actions: [], version: 'v2.0.0', phase: 'Failed',
      reasonStartsWith: `held: v2.0.0 failed health at ${at}`, reason: 'tend retry web; rollout.autoRollback is off: not rolled back',
    }],
    actions: [],
    summary: { held: 1 },
    // Recorded once: a status already Failed gets no record.
    check: (p) => expect(p.instances[0]!.record?.done?.message).toBe(phase === 'Failed' ? undefined : message),
  }));
}

/** Checks every row must pass: ids unique, dependencies point backwards, instance actions exist, summary adds up. */
function checkInvariants(p: Plan, i: PlanInput): void {
  const ids = loose(p.actions).map((a) => a.id);
  expect(new Set(ids).size, 'action ids are unique').toBe(ids.length);
  p.actions.forEach((a, n) => {
    for (const dep of a.dependsOn) expect(ids.slice(0, n), `${a.id} depends on an earlier action`).toContain(dep);
  });
  const listed = p.instances.flatMap((x) => x.actions);
  expect([...listed].sort()).toEqual(loose(p.actions).filter((a) => a.type !== 'build-release').map((a) => a.id).sort());
  const total = Object.values(p.summary).reduce((a, b) => a + b, 0);
  expect(total, 'summary counts every instance once').toBe(p.instances.length);
  for (const x of p.instances) {
    if (x.change === 'invalid') {
      // An invalid file applies nothing of itself: its only actions put back the last healthy spec on record.
      for (const id of x.actions) expect(p.actions.find((a) => a.id === id), `${x.name} (invalid) acts only from applied`).toMatchObject({ from: 'applied' });
    } else if (['held', 'blocked', 'unchanged', 'orphan'].includes(x.change)) {
      expect(actionTypesOf(p, x.actions).filter((t) => t !== 'orphan'), `${x.name} (${x.change}) does nothing`).toEqual([]);
    }
  }
  // Things tend does not own are never touched.
  const unowned = Object.values(i.observed.runtimes).flatMap((o) => o?.items ?? []).filter((it) => !it.owned);
  for (const a of p.actions) {
    if (a.type === 'orphan' || a.type === 'build-release') continue;
    expect(unowned.some((u) => u.runtime === a.runtime && u.id === (a as LooseAction).target), `${a.id} touches an unowned thing`).toBe(false);
    if (a.type === 'write-config') continue;
    if (a.type === 'load-image') expect(a.runtime).toBe('docker');
    else expect(a.target, `${a.id} names its target`).toBeTruthy();
  }
  // Removed instances are stopped or deleted only with deletion on and a non-empty desired/.
  const deleting = i.options?.prune === true || i.desired.config.prune.deleteRemoved;
  const declared = new Set(i.desired.entries.map((e) => e.name));
  const removedWork = loose(p.actions).filter((a) => a.instance !== undefined && !declared.has(a.instance) && DELETE_TYPES.has(a.type));
  if (!deleting || !i.desired.dirExists || i.desired.entries.length === 0) {
    expect(removedWork, 'no deletion allowed').toEqual([]);
    expect(p.instances.filter((x) => x.change === 'delete')).toEqual([]);
  }
}

function checkRow(row: Row, p: Plan, i: PlanInput): void {
  checkInvariants(p, i);
  expect(p.formatVersion).toBe(2);
  expect(p.app).toBe('oubliette');
  expect(p.summary).toEqual(counts(row.summary));
  expect(p.instances.map((x) => `${x.name}:${x.change}`)).toEqual(row.instances.map((x) => `${x.name}:${x.change}`));
  row.instances.forEach((want, n) => {
    const got = p.instances[n]!;
    const label = `instance ${want.name}`;
    expect(got.disruption, `${label} disruption`).toBe(want.disruption);
    expect(actionTypesOf(p, got.actions), `${label} actions`).toEqual(want.actions);
    if (want.runtime !== undefined) expect(got.runtime, `${label} runtime`).toBe(want.runtime);
    if (want.reason !== undefined) expect(got.reason, `${label} reason`).toContain(want.reason);
    if (want.reasonStartsWith !== undefined) expect(got.reason.startsWith(want.reasonStartsWith), `${label} reason "${got.reason}"`).toBe(true);
    if (want.release === null) expect(got.release, `${label} release`).toBeUndefined();
    else if (want.release !== undefined) expect(got.release, `${label} release`).toContain(want.release);
    if (want.fields !== undefined) expect(got.fields, `${label} fields`).toEqual(want.fields);
    for (const f of want.someFields ?? []) expect(got.fields, `${label} fields`).toContainEqual(f);
    if (want.version !== undefined) expect(got.version, `${label} version`).toBe(want.version);
    if (want.fromVersion !== undefined) expect(got.fromVersion, `${label} fromVersion`).toBe(want.fromVersion);
    if (want.phase !== undefined) expect(got.phase, `${label} phase`).toBe(want.phase);
  });
  if (row.actions !== undefined) {
    expect(loose(p.actions).map((a) => a.id)).toEqual(row.actions.map((a) => a.id));
    row.actions.forEach((want, n) => {
      const got = loose(p.actions)[n]!;
      expect(got.type, `${want.id} type`).toBe(want.type);
      expect(got.dependsOn, `${want.id} dependsOn`).toEqual(want.dependsOn);
      if (want.disruption !== undefined) expect(got.disruption, `${want.id} disruption`).toBe(want.disruption);
      if (want.target !== undefined) expect(got.target, `${want.id} target`).toBe(want.target);
      if (want.runtime !== undefined) expect(got.runtime, `${want.id} runtime`).toBe(want.runtime);
    });
  }
  if (row.actionTypes !== undefined) expect(loose(p.actions).map((a) => a.type)).toEqual(row.actionTypes);
  const wantDiags = row.diagnostics ?? [];
  expect(p.diagnostics.map((d) => `${d.severity}: ${d.message}`), 'diagnostics').toHaveLength(wantDiags.length);
  for (const want of wantDiags) {
    expect(p.diagnostics).toContainEqual(expect.objectContaining({
      severity: want.severity,
      message: expect.stringContaining(want.message),
      ...(want.file !== undefined ? { file: want.file } : {}),
      ...(want.line !== undefined ? { line: want.line } : {}),
    }));
  }
  row.check?.(p, i);
}

/** The same input with every list and record in another order. */
function reordered(i: PlanInput): PlanInput {
  const rev = <T>(r: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(r).reverse());
  const runtimes = Object.fromEntries(Object.entries(i.observed.runtimes).reverse().map(([rt, o]) => [
    rt, o.status === 'ok' ? { ...o, items: [...o.items].reverse(), ...(o.images ? { images: [...o.images].reverse() } : {}) } : o,
  ])) as PlanInput['observed']['runtimes'];
  return {
    desired: { ...i.desired, entries: [...i.desired.entries].reverse(), diagnostics: [...i.desired.diagnostics].reverse() },
    observed: { ...i.observed, runtimes },
    releases: { resolutions: rev(i.releases.resolutions), built: rev(i.releases.built) },
    states: rev(i.states),
    ...(i.options ? { options: i.options } : {}),
  };
}

describe('planner (table)', () => {
  it('has at least 30 cases with distinct names', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });

  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const i = row.input();
    checkRow(row, run(i), i);
  });
});

describe('planner determinism and purity', () => {
  it.each(rows.map((r) => [r.name, r] as const))('same plan for reordered inputs: %s', (_name, row) => {
    const i = row.input();
    const a = run(i);
    const b = run(reordered(i));
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it.each(rows.map((r) => [r.name, r] as const))('does not mutate frozen inputs: %s', (_name, row) => {
    const i = row.input();
    const before = structuredClone(i);
    const frozen = deepFreeze(row.input());
    const p = run(frozen);
    expect(i).toEqual(before);
    expect(frozen).toEqual(before);
    expect(p).toEqual(run(i));
  });

  it('a mixed plan is the same whichever order desired entries and observed items come in', () => {
    const web = validEntry('web', { version: 'v1.2.0' });
    const api = validEntry('api', { port: 8081 }, 'docker');
    const job = validEntry('job', { port: 8082 }, 'tmux');
    const stWeb = deployedState('web', web, C0);
    const mk = (reverse: boolean): PlanInput => {
      const order = <T>(xs: T[]) => (reverse ? [...xs].reverse() : xs);
      return input({
        desired: desired(order([validEntry('web'), api, invalidEntry('bad'), job, validEntry('new', { port: 8083 })])),
        observed: observed(order([
          upToDateItem(web, C0, stWeb), upToDateItem(api, C1, undefined, { state: 'stopped' }),
          observedItem('tmux', 'job', { version: 'v1.3.0', specHash: 'old' }), observedItem('systemd', 'gone'),
          observedItem('systemd', 'bad'), observedItem('docker', 'x', { id: 'x', owned: false }),
          observedItem('docker', 'y', { id: 'y', owned: false }), observedItem('tmux', 'old', { state: 'stopped' }),
        ])),
        releases: releases({
          resolutions: Object.fromEntries(order([['v1.2.0', resolved('v1.2.0', C0)], ['v1.3.0', resolved('v1.3.0', C1)]] as const)),
          built: order([built('v1.2.0', C0)]),
        }),
        states: { web: stWeb },
        options: { prune: true },
      });
    };
    const a = run(mk(false));
    const b = run(mk(true));
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(a.instances.map((x) => `${x.name}:${x.change}`)).toEqual([
      'api:create', 'bad:invalid', 'job:reconfigure', 'new:create', 'web:update', 'gone:delete', 'old:delete', 'x:orphan', 'y:orphan',
    ]);
    expect(loose(a.actions).filter((x) => x.type === 'build-release').map((x) => x.id)).toEqual(['build/v1.3.0']);
  });

  it('leaves deep-frozen inputs untouched and plans exactly as with fresh copies', () => {
    const old = validEntry('web', { version: 'v1.2.0' }, 'docker');
    const st = deployedState('web', old, C0);
    const mk = (): PlanInput => input({
      desired: desired([validEntry('web', {}, 'docker'), invalidEntry('bad'), validEntry('api', { port: 8081 })], { config: config({ source: { image: 'oubliette:latest' } }) }),
      observed: observed([upToDateItem(old, C0, st), observedItem('systemd', 'gone'), observedItem('tmux', 'z', { owned: false, id: 'z' })], { images: [] }),
      releases: releases({ resolutions: { 'v1.3.0': resolved('v1.3.0', C1), 'v1.2.0': resolved('v1.2.0', C0) } }),
      states: { web: st },
      options: { prune: true },
    });
    const fresh = mk();
    const snapshot = structuredClone(fresh);
    const frozen = deepFreeze(mk());
    expect(() => run(frozen)).not.toThrow();
    const p = run(fresh);
    expect(fresh).toEqual(snapshot);
    expect(run(frozen)).toEqual(p);
    expect(p.summary).toEqual(counts({ create: 1, update: 1, invalid: 1, delete: 1, orphan: 1 }));
  });
});
