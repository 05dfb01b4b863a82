// The rule for commands that edit desired files: when the agent pulls them from git
// (`agent.git.pull`), an edit made here would be overwritten, so it is refused unless `--local`.
// And the error type of the operator functions.
import type { Diagnostic, TendConfig } from '../model/types.js';

/**
 * Why an edit of desired files is refused, or undefined when it may go ahead: `agent.git.pull` is on
 * and `local` (the `--local` flag) is not set. `what` names the edit for the message (`stop web`).
 */
export function desiredEditRefusal(config: Pick<TendConfig, 'agent'>, local: boolean | undefined, what = 'make the change'): string | undefined {
  if (!config.agent.git.pull || local) return undefined;
  return `agent.git.pull is on, so desired files come from git: ${what} in a checkout and commit it (the agent pulls it), or pass --local to edit this copy`;
}

/** Why an operation did not happen: `refused` (a rule, or a question answered no), `not-found`, `invalid` input, `failed` work, `aborted`. */
export type OpsErrorKind = 'refused' | 'not-found' | 'invalid' | 'failed' | 'aborted';

/** Thrown by operator functions for problems of the operator's making or failed work; `message` is for people (no secret values). */
export class OpsError extends Error {
  override name = 'OpsError';
  constructor(message: string, readonly kind: OpsErrorKind = 'failed', readonly diagnostics: Diagnostic[] = []) {
    super(message);
  }
}
