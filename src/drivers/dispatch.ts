// One action to the driver function that carries it out; types a driver does not handle (the
// executor's own, or another runtime's) are refused with the same words by every driver.
import type { Action, ActionType, Runtime } from '../model/types.js';
import { TendError } from '../shared/errors.js';

export type Handlers = Partial<Record<ActionType, () => Promise<void>>>;

/** An action sent to a driver that has no handler for it: a defect in tend, terminal. */
export class NotCarriedOut extends TendError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

export async function dispatch(runtime: Runtime, action: Action, handlers: Handlers): Promise<void> {
  const handler = handlers[action.type];
  if (!handler) throw new NotCarriedOut(`the ${runtime} driver does not carry out ${action.type} (${action.id}); the executor handles it`);
  return handler();
}
