// Adoption: a desired file (desired/<name>.yaml, runtime docker) and a record for each found container.
//
// The instance name is the discovery label's value (or the sanitized container name); when a desired
// file or another adoption already has it, the container is adopted as `<name>-docker` and a warning
// says so. The version is the image tag when it looks like a version, else `latest`; port, address and
// container port come from the published port. Env and volumes are not carried over.
import { existsSync, mkdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { stringify } from 'yaml';
import type { TendConfig } from '../model/types.js';
import { validators } from '../spec/schemas.js';
import { customNetwork, publishedPort, versionFromImage } from '../drivers/docker/discovery.js';
import { instanceNameProblem } from '../spec/names.js';
import { activeRecords, readAdoptionRecords, writeAdoptionRecord } from '../state/adopted.js';
import type { Discovery, FoundContainer } from './scan.js';
import { createFileExclusive } from '../fs/atomic.js';

export const CONFLICT_SUFFIX = '-docker';

export interface AdoptPaths {
  root: string;
  desired: string;
  instances: string;
}

export interface Adopted {
  container: string;
  instance: string;
  /** The desired file written, relative to the root. */
  file: string;
}

export interface AdoptResult {
  adopted: Adopted[];
  /** Adopted, but not under the name it asked for. */
  warnings: string[];
  /** Containers that could not be adopted, and why. */
  failures: string[];
}

function display(root: string, path: string): string {
  const rel = relative(root, path);
  return rel === '' || rel.startsWith('..') ? path : rel.split(sep).join('/');
}

/** The desired file's content for one container (validated against instance.schema.json). */
export function desiredFor(c: FoundContainer, now: Date, config: Pick<TendConfig, 'app'>, instance: string): string {
  const summary = c.summary!;
  const published = publishedPort(summary)!;
  const network = customNetwork(summary);
  const version = versionFromImage(c.image);
  const body = {
    version,
    runtime: 'docker',
    state: c.state === 'running' ? 'running' : 'stopped',
    port: published.port,
    address: published.address,
    docker: { containerPort: published.containerPort, ...(network !== undefined ? { network } : {}) },
  };
  const validate = validators().instance;
  if (!validate(body)) throw new Error(`adopting ${c.name}: the desired file would not validate: ${validate.errors?.[0]?.instancePath} ${validate.errors?.[0]?.message}`);
  const header = [
    `Adopted by \`tend discover --adopt\` at ${now.toISOString()}: container ${c.name} (${c.id.slice(0, 12)}), image ${c.image}.`,
    'Its env and volumes were not carried over: put secrets into the instance .env and review this file.',
    `The next reconcile replaces that container with tend's own (${config.app}-${instance}) running release ${version}.`,
  ];
  return `${header.map((l) => `# ${l}`).join('\n')}\n${stringify(body)}`;
}


/** Adopts every found container that is not adopted yet; never overwrites a desired file. */
export function adopt(discovery: Discovery, config: TendConfig, paths: AdoptPaths, now = new Date()): AdoptResult {
  const result: AdoptResult = { adopted: [], warnings: [], failures: [] };
  const claimed = new Set(activeRecords(readAdoptionRecords(paths.instances)).map((r) => r.instance));
  const desiredFile = (name: string) => join(paths.desired, `${name}.yaml`);
  const taken = (name: string) => claimed.has(name) || existsSync(desiredFile(name)) || existsSync(join(paths.desired, `${name}.yml`));
  const whyTaken = (name: string) => (claimed.has(name) ? `adopted already by another container` : `taken (${display(paths.root, desiredFile(name))} exists)`);
  mkdirSync(paths.desired, { recursive: true });
  for (const c of discovery.containers) {
    if (c.adopted || c.gone || !c.summary) continue;
    if (c.instance === undefined) {
      result.failures.push(`cannot adopt ${c.name}: ${c.problem ?? 'no instance name'}`);
      continue;
    }
    if (!publishedPort(c.summary)) {
      result.failures.push(`cannot adopt ${c.name}: it publishes no TCP port on the host (tend needs a port; write ${display(paths.root, desiredFile(c.instance))} by hand)`);
      continue;
    }
    let name = c.instance;
    if (taken(name)) {
      const alt = `${name}${CONFLICT_SUFFIX}`;
      const problem = instanceNameProblem(alt);
      if (problem || taken(alt)) {
        result.failures.push(`cannot adopt ${c.name}: instance name ${name} is ${whyTaken(name)}, and ${alt} ${problem ?? `is ${whyTaken(alt)}`}`);
        continue;
      }
      result.warnings.push(`instance name ${name} is ${whyTaken(name)}: adopted ${c.name} as ${alt}`);
      name = alt;
    }
    const file = desiredFile(name);
    if (!createFileExclusive(file, desiredFor(c, now, config, name))) {
      result.failures.push(`cannot adopt ${c.name}: ${display(paths.root, file)} appeared meanwhile`);
      continue;
    }
    writeAdoptionRecord(paths.instances, { instance: name, containerId: c.id, container: c.name, image: c.image, adoptedAt: now.toISOString() });
    claimed.add(name);
    result.adopted.push({ container: c.name, instance: name, file: display(paths.root, file) });
  }
  return result;
}
