// One action to the driver function that carries it out; types a driver does not handle (the
// executor's own, or another runtime's) are refused with the same words by every driver.
import type { Action, ActionType, Runtime } from '../model/types.js';

export type Handlers = Partial<Record<ActionType, () => Promise<void>>>;

export class NotCarriedOut extends Error {}

export async function dispatch(runtime: Runtime, action: Action, handlers: Handlers): Promise<void> {
  const handler = handlers[action.type];
  if (!handler) throw new NotCarriedOut(`the ${runtime} driver does not carry out ${action.type} (${action.id}); the executor handles it`);
  return handler();
}
