// Names of the things tend creates: <app>-<instance>, per runtime.
import type { Runtime, TendConfig } from '../model/types.js';
import { readSchema } from './schemas.js';

export function baseName(app: string, instance: string): string {
  return `${app}-${instance}`;
}

/** Unit file, container, session or launchd label for an instance. */
export function targetName(runtime: Runtime, config: Pick<TendConfig, 'app' | 'launchd'>, instance: string): string {
  const base = baseName(config.app, instance);
  switch (runtime) {
    case 'systemd':
      return `${base}.service`;
    case 'launchd':
      return `${config.launchd.labelPrefix}.${base}`;
    case 'docker':
    case 'tmux':
      return base;
    default: {
      const never: never = runtime;
      throw new Error(`unknown runtime ${String(never)}`);
    }
  }
}

export const RUNTIME_NOUN: Record<Runtime, string> = {
  systemd: 'systemd unit',
  launchd: 'launchd job',
  docker: 'container',
  tmux: 'tmux session',
};

interface NameRules {
  pattern: RegExp;
  maxLength: number;
  reserved: readonly string[];
}

let nameRules: NameRules | undefined;

/** The instance-name rules of desired files, read from instance.schema.json (one source of truth). */
function rules(): NameRules {
  if (nameRules) return nameRules;
  const def = (readSchema('instance.schema.json').definitions as Record<string, { pattern: string; maxLength: number; not: { enum: string[] } }>).instanceName!;
  nameRules = { pattern: new RegExp(def.pattern), maxLength: def.maxLength, reserved: def.not.enum };
  return nameRules;
}

/** Why `name` cannot name an instance, or undefined when it can. */
export function instanceNameProblem(name: string): string | undefined {
  const r = rules();
  if (name.length > r.maxLength) return `is longer than ${r.maxLength} characters`;
  if (!r.pattern.test(name)) return "is not a lowercase DNS label (a-z, 0-9 and '-', not starting or ending with '-')";
  if (r.reserved.includes(name)) return 'is a reserved word';
  return undefined;
}

/** A container name made into an instance name: lowercase, runs of other characters become '-'. */
export function sanitizeName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, rules().maxLength).replace(/-+$/, '');
}
