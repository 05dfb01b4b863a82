// A health spec's one check, by kind, and its one description (the plan, status and messages use it).
import type { HealthCheck, HealthSpec } from '../model/types.js';

/** The check a (merged, valid) health spec names. */
export function healthCheckOf(h: HealthSpec): HealthCheck {
  if (h.exec !== undefined) return { kind: 'exec', argv: h.exec };
  if (h.tcp === true) return { kind: 'tcp' };
  if (h.http !== undefined) return { kind: 'http', path: h.http };
  throw new Error(`health check names no kind (http, tcp or exec): ${JSON.stringify(h)}`);
}

/** `HTTP GET /health`, `TCP connect`, `exec ./check --ready`. */
export function describeCheck(c: HealthCheck): string {
  switch (c.kind) {
    case 'http':
      return `HTTP GET ${c.path}`;
    case 'tcp':
      return 'TCP connect';
    case 'exec':
      return `exec ${c.argv.join(' ')}`;
    default: {
      const never: never = c;
      throw new Error(`unknown health check ${JSON.stringify(never)}`);
    }
  }
}

/** `HTTP GET /health` for a health spec. */
export function describeHealth(h: HealthSpec): string {
  return describeCheck(healthCheckOf(h));
}
