// Canonical JSON and the spec hash stamped on everything tend creates.
import { createHash } from 'node:crypto';
import type { InstanceSpec } from '../model/types.js';

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** sha256 of the canonical merged spec, the release commit and the digest of the .env values. */
export function specHash(spec: InstanceSpec, commit: string, envDigest: string): string {
  return sha256(canonicalJson({ spec, commit, envDigest }));
}

export function short(hashOrCommit: string): string {
  return hashOrCommit.slice(0, 7);
}
