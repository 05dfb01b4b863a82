// instances/<name>/config.yaml: the config template (templates/config.yaml or tend.yaml `templates.config`) filled in, the app's `config:` merged on top.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { errorMessage } from '../shared/errors.js';

export const CONFIG_TEMPLATE = fileURLToPath(new URL('../../templates/config.yaml', import.meta.url));

/** The names a config template may use in double braces. */
export const CONFIG_TEMPLATE_KEYS = [
  'name', 'app', 'address', 'port', 'version', 'runtime', 'instanceDir', 'configPath', 'dataDir', 'projectsDir', 'logsDir',
] as const;
export type ConfigTemplateValues = Record<(typeof CONFIG_TEMPLATE_KEYS)[number], string | number>;

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

/** The values as the process sees them: in a container, the container's port, 0.0.0.0 and paths under /instance. */
export function configTemplateValues(v: {
  name: string; app: string; address: string; port: number; version: string; runtime: string; instanceDir: string;
  container?: { port: number; mount: string };
}): ConfigTemplateValues {
  const dir = v.container?.mount ?? v.instanceDir;
  return {
    name: v.name, app: v.app, version: v.version, runtime: v.runtime,
    address: v.container ? '0.0.0.0' : v.address, port: v.container?.port ?? v.port,
    instanceDir: dir, configPath: `${dir}/config.yaml`, dataDir: `${dir}/data`, projectsDir: `${dir}/projects`, logsDir: `${dir}/logs`,
  };
}

/**
 * Fills the template (`{{port}}` becomes a YAML scalar; in comment lines the bare value) and merges
 * the app's own config keys in at the top level, a key of the app's replacing the template's.
 * Throws, naming `templateName:line`, for an unknown placeholder or a result that is not a YAML mapping.
 */
export function renderInstanceConfig(template: string, values: ConfigTemplateValues, appConfig: unknown, templateName: string): string {
  const lines = template.split('\n').map((line, i) => line.replace(PLACEHOLDER, (_whole, key: string) => {
    if (!(key in values)) {
      throw new Error(`${templateName}:${i + 1}: unknown placeholder {{${key}}} (known: ${CONFIG_TEMPLATE_KEYS.join(', ')})`);
    }
    const value = values[key as keyof ConfigTemplateValues];
    return line.trimStart().startsWith('#') || typeof value === 'number' ? String(value) : JSON.stringify(value);
  }));
  const doc = parseDocument(lines.join('\n'));
  const err = doc.errors[0];
  if (err) throw new Error(`${templateName}:${err.linePos?.[0].line ?? 1}: the filled-in template is not valid YAML: ${err.message.split('\n')[0]}`);
  if (doc.contents !== null && !(doc.contents as { items?: unknown }).items) throw new Error(`${templateName}: the template is not a YAML mapping`);
  if (appConfig !== null && typeof appConfig === 'object' && !Array.isArray(appConfig)) {
    for (const [k, v] of Object.entries(appConfig)) doc.set(k, v);
  }
  const text = doc.toString();
  return text.trim() === 'null' || text.trim() === '' ? '{}\n' : text;
}

/** The template's text: tend.yaml `templates.config` (relative to the root) or the built-in one. */
export function readConfigTemplate(file: string | undefined): { text: string; name: string } {
  const path = file ?? CONFIG_TEMPLATE;
  try {
    return { text: readFileSync(path, 'utf8'), name: file ?? 'templates/config.yaml' };
  } catch (err) {
    throw new Error(`cannot read the config template ${path}: ${errorMessage(err)}`);
  }
}
