// Where a health command's program comes from: the release (read-only to the instance) or tend's PATH, never a file an instance can write.
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

const within = (outer: string, p: string) => p === outer || p.startsWith(`${outer}${sep}`);

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    // missing: compare the path as written
    return resolve(p);
  }
}

export interface HealthCommand {
  argv: string[];
  /** The working directory the command runs in: the release directory (or / when there is none). */
  cwd: string;
}

/**
 * `health.exec` made safe to run as root: a bare name (`curl`) is looked up on tend's PATH; a
 * relative path (`./check.sh`, `bin/check`) is the release's file (`releases/<version>/...`) and may
 * not climb out of it; an absolute path is taken as written. Whatever it names, the resolved file
 * (links followed) may not lie under the instances folder, which instances (and their containers)
 * write. Throws a message naming the command otherwise.
 */
export function resolveHealthCommand(argv: readonly string[], releaseDir: string | undefined, instancesDir: string): HealthCommand {
  const cwd = releaseDir !== undefined && existsSync(releaseDir) ? releaseDir : '/';
  const [file, ...args] = argv;
  if (file === undefined || !file.includes('/')) return { argv: [...argv], cwd };
  let path = file;
  if (!isAbsolute(file)) {
    if (releaseDir === undefined) throw new Error(`health.exec ${file} is relative to the release, but the running release is unknown`);
    path = resolve(releaseDir, file);
    if (!within(resolve(releaseDir), path)) throw new Error(`health.exec ${file} climbs out of the release directory; tend runs only the release's own files`);
  }
  const target = real(path);
  const instances = real(instancesDir);
  if (within(instances, target) || within(resolve(instancesDir), resolve(path))) {
    throw new Error(`health.exec ${file} resolves to ${relative(instances, target) === '' ? instances : target}, under the instances folder, which instances can write; tend never runs a file from there`);
  }
  return { argv: [target, ...args], cwd };
}
