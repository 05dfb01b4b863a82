// The rule for commands that edit desired files: when the agent pulls them from git
// (`agent.git.pull`), an edit made here would be overwritten, so it is refused unless `--local`.
// And the error type of the operator functions.
import type { Diagnostic, TendConfig } from '../model/types.js';
import { TendError } from '../shared/errors.js';

/**
 * Why an edit of desired files is refused, or undefined when it may go ahead: `agent.git.pull` is on
 * and `local` (the `--local` flag) is not set. `what` names the edit for the message (`stop web`).
 */
export function desiredEditRefusal(config: Pick<TendConfig, 'agent'>, local: boolean | undefined, what = 'make the change'): string | undefined {
  if (!config.agent.git.pull || local) return undefined;
  return `agent.git.pull is on, so desired files come from git: ${what} in a checkout and commit it (the agent pulls it), or pass --local to edit this copy`;
}

/** Why an operation did not happen: `refused` (a rule, or a question answered no), `not-found`, `invalid` input, `failed` work, `aborted`. */
export type OpsErrorCode = 'refused' | 'not-found' | 'invalid' | 'failed' | 'aborted';
/** @deprecated the old name of OpsErrorCode (`OpsError.kind` is now the base's user | system). */
export type OpsErrorKind = OpsErrorCode;

/**
 * Thrown by operator functions for problems of the operator's making or failed work; `message` is for
 * people (no secret values). `code` says why; `failed` work is a retryable system error, the rest are
 * the operator's (user errors, terminal).
 */
export class OpsError extends TendError {
  constructor(message: string, readonly code: OpsErrorCode = 'failed', readonly diagnostics: Diagnostic[] = [], cause?: unknown) {
    super(message, { kind: code === 'failed' ? 'system' : 'user', ...(cause !== undefined ? { cause } : {}) });
  }
}
