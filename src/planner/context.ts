// What planning one instance is given (planner/instance.ts and the files it is split into).
import type { DesiredEntry, Diagnostic, Hold, InstanceState, ObservedItem, Observed, ReleaseCatalog, TendConfig } from '../model/types.js';
import type { ActionBuilder } from './builder.js';
import type { ReleaseDecision } from './release.js';

export type Valid = Extract<DesiredEntry, { status: 'valid' }>;

export interface InstanceContext {
  config: TendConfig;
  observed: Observed;
  releases: ReleaseCatalog;
  state: InstanceState | undefined;
  /** Owned things found for this instance, in any runtime. */
  items: ObservedItem[];
  force: boolean;
  builder: ActionBuilder;
  diagnostics: Diagnostic[];
  /** Planning the way back to the last healthy spec of a held instance (set by planInstance itself). */
  rollback?: { held: Hold; release: ReleaseDecision & { kind: 'ok' } };
  /** Planning the way back to the last healthy spec of an instance whose desired file is invalid (set by planInvalid). */
  restore?: { release: ReleaseDecision & { kind: 'ok' } };
  /** Set while planning: what the records need besides the plan (the release's commit, a held plan's message). */
  out?: { commit?: string; heldMessage?: string };
}
