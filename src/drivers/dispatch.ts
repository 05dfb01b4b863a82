// One action to the driver function that carries it out. A driver passes a complete table for its
// runtime (`Handlers<'docker'>` must name load-image, create-container, start, stop, restart and
// delete), so an action type a driver does not handle is a compile error; at run time an action of
// another runtime is refused with the same words by every driver.
import type { Runtime } from '../model/types.js';
import type { RuntimeAction, RuntimeActionType } from '../model/plan.js';
import { TendError } from '../shared/errors.js';

export type Handlers<R extends Runtime> = Record<RuntimeActionType<R>, () => Promise<void>>;

/** An action sent to a driver that has no handler for it: a defect in tend, terminal. */
export class NotCarriedOut extends TendError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

export async function dispatch<R extends Runtime>(runtime: R, action: RuntimeAction, handlers: Handlers<R>): Promise<void> {
  const handler = Object.hasOwn(handlers, action.type) ? handlers[action.type as RuntimeActionType<R>] : undefined;
  if (action.runtime !== runtime || !handler) {
    throw new NotCarriedOut(`the ${runtime} driver does not carry out ${action.type} on ${action.runtime} (${action.id})`);
  }
  return handler();
}
