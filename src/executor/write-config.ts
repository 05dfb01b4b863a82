// The write-config action: the instance directory laid out and config.yaml rendered from the config template.
import { isAbsolute, join } from 'node:path';
import { DEFAULT_CONTAINER_PORT, INSTANCE_MOUNT } from '../drivers/docker/container.js';
import { writeOwnFile } from '../fs/safe.js';
import type { InstanceSpec, Runtime, TendConfig } from '../model/types.js';
import type { RootPaths } from '../spec/config.js';
import { configTemplateValues, readConfigTemplate, renderInstanceConfig } from '../state/config-file.js';
import { prepareInstanceDir } from '../state/layout.js';

export function writeInstanceConfig(
  paths: RootPaths, config: TendConfig, name: string, spec: InstanceSpec, runtime: Runtime, version: string,
): void {
  const layout = prepareInstanceDir(paths.instances, name);
  const file = config.templates?.config;
  const template = readConfigTemplate(file === undefined ? undefined : isAbsolute(file) ? file : join(paths.root, file));
  const values = configTemplateValues({
    name, app: config.app, address: spec.address, port: spec.port, version, runtime, instanceDir: layout.dir,
    ...(runtime === 'docker' ? { container: { port: spec.docker?.containerPort ?? DEFAULT_CONTAINER_PORT, mount: INSTANCE_MOUNT } } : {}),
  });
  writeOwnFile(layout.config, renderInstanceConfig(template.text, values, spec.config, file ?? template.name));
}
