// The release manifest (`releases/<version>/manifest.json`): its shape, file names, and reading it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../shared/errors.js';

export const MANIFEST_FILE = 'manifest.json';
export const IMAGE_FILE = 'container-image.tar';
export const LOG_FILE = 'build.log';
/** Names tend writes into a release folder; an artifact may not take them. */
export const RESERVED_NAMES: readonly string[] = [MANIFEST_FILE, IMAGE_FILE, LOG_FILE];

export interface ManifestArtifact {
  /** Relative to the release folder, as declared in `source.artifacts`. */
  path: string;
  sha256: string;
  size: number;
  /** Octal permission bits, e.g. `0755`. */
  mode: string;
}

export interface ManifestImage {
  /** The name the build produced (`source.image`, e.g. `oubliette:latest`). */
  name: string;
  /** The image id (`sha256:...`) the release refers to. */
  id: string;
  /** sha256 of container-image.tar. */
  sha256: string;
}

export interface ReleaseManifest {
  version: string;
  commit: string;
  builtAt: string;
  builtBy: string;
  tendVersion: string;
  build: string;
  artifacts: ManifestArtifact[];
  image?: ManifestImage;
}

/** Fields without which a release cannot be used at all (older manifests may lack builtBy, tendVersion, build). */
export const REQUIRED_FIELDS = ['version', 'commit', 'builtAt', 'artifacts'] as const;

export type ManifestRead =
  | { status: 'ok'; manifest: ReleaseManifest; raw: Record<string, unknown> }
  | { status: 'problem'; problem: string; commit: string; raw?: Record<string, unknown> };

/** Reads and shape-checks a manifest; a problem keeps the commit when one is there (for `tag moved`). */
export function readManifest(dir: string): ManifestRead {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return { status: 'problem', problem: `${MANIFEST_FILE} is missing`, commit: '' };
  let raw: Record<string, unknown>;
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    raw = value as Record<string, unknown>;
  } catch (err) {
    return { status: 'problem', problem: `${MANIFEST_FILE} is unreadable: ${errorMessage(err)}`, commit: '' };
  }
  const commit = typeof raw.commit === 'string' ? raw.commit : String(raw.commit ?? '');
  const missing = REQUIRED_FIELDS.filter((k) => raw[k] === undefined);
  if (missing.length > 0) return { status: 'problem', problem: `${MANIFEST_FILE} lacks ${missing.join(', ')}`, commit, raw };
  const bad = shapeProblem(raw);
  if (bad) return { status: 'problem', problem: `${MANIFEST_FILE} ${bad}`, commit, raw };
  return { status: 'ok', manifest: raw as unknown as ReleaseManifest, raw };
}

function shapeProblem(raw: Record<string, unknown>): string | undefined {
  for (const k of ['version', 'commit', 'builtAt', 'builtBy', 'tendVersion', 'build'] as const) {
    if (raw[k] !== undefined && typeof raw[k] !== 'string') return `has a non-string ${k}`;
  }
  if (!Array.isArray(raw.artifacts)) return 'has artifacts that are not a list';
  for (const a of raw.artifacts as unknown[]) {
    const x = a as Partial<ManifestArtifact> | null;
    if (typeof x !== 'object' || x === null || typeof x.path !== 'string' || typeof x.sha256 !== 'string') {
      return 'has an artifact without path and sha256';
    }
    if (!safeRelative(x.path)) return `has an artifact path outside the release: ${x.path}`;
  }
  if (raw.image !== undefined) {
    const img = raw.image as Partial<ManifestImage> | null;
    if (typeof img !== 'object' || img === null || typeof img.id !== 'string' || typeof img.sha256 !== 'string') {
      return 'has an image without id and sha256';
    }
  }
  return undefined;
}

/** A relative path that stays inside its folder. */
export function safeRelative(path: string): boolean {
  return path !== '' && !path.startsWith('/') && !path.split('/').some((p) => p === '..' || p === '');
}
