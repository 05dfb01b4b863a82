// Adoption records: instances/<name>/adopted.json says which found container an instance took over.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { readOwnFile, writeOwnFile } from '../fs/safe.js';
import { join } from 'node:path';
import { isNotFound } from '../shared/errors.js';

export const ADOPTED_FILE = 'adopted.json';

export interface AdoptionRecord {
  /** The instance the container became. */
  instance: string;
  /** Full container id: the record follows the container, not its name. */
  containerId: string;
  /** The container's name when it was adopted. */
  container: string;
  image: string;
  adoptedAt: string;
  /** tend removed the adopted container and made its own (`<app>-<instance>`) in its place. */
  replacedAt?: string;
  replacedBy?: string;
  /** tend deleted the adopted container (its instance was removed). */
  removedAt?: string;
}

export function adoptionFile(instancesDir: string, instance: string): string {
  return join(instancesDir, instance, ADOPTED_FILE);
}

function parse(text: string, instance: string): AdoptionRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<AdoptionRecord>;
    if (typeof v !== 'object' || v === null || typeof v.containerId !== 'string' || typeof v.container !== 'string') return undefined;
    return {
      instance, containerId: v.containerId, container: v.container, image: String(v.image ?? ''), adoptedAt: String(v.adoptedAt ?? ''),
      ...(typeof v.replacedAt === 'string' ? { replacedAt: v.replacedAt } : {}),
      ...(typeof v.replacedBy === 'string' ? { replacedBy: v.replacedBy } : {}),
      ...(typeof v.removedAt === 'string' ? { removedAt: v.removedAt } : {}),
    };
  } catch {
    // torn or hand-edited: no record (the container stays unowned and untouched)
    return undefined;
  }
}

/** One instance's record, when it has a readable one. */
export function readAdoptionRecord(instancesDir: string, instance: string): AdoptionRecord | undefined {
  try {
    const text = readOwnFile(adoptionFile(instancesDir, instance));
    return text === undefined ? undefined : parse(text, instance);
  } catch {
    // unsafe or unreadable: no record (the container stays unowned and untouched)
    return undefined;
  }
}

/** Every readable record under instances/ (a missing folder has none), sorted by instance. */
export function readAdoptionRecords(instancesDir: string): AdoptionRecord[] {
  let names: string[];
  try {
    names = readdirSync(instancesDir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  return names.sort().flatMap((n) => (existsSync(adoptionFile(instancesDir, n)) ? readAdoptionRecord(instancesDir, n) ?? [] : []));
}

/** In force: the container it names is the instance's (tend has neither replaced nor removed it). */
export function isActive(record: AdoptionRecord): boolean {
  return record.replacedAt === undefined && record.removedAt === undefined;
}

export function activeRecords(records: readonly AdoptionRecord[]): AdoptionRecord[] {
  return records.filter(isActive);
}

/** Writes the record atomically (temporary file + rename), creating instances/<name>/. */
export function writeAdoptionRecord(instancesDir: string, record: AdoptionRecord): void {
  const file = adoptionFile(instancesDir, record.instance);
  mkdirSync(join(instancesDir, record.instance), { recursive: true });
  const { instance: _instance, ...body } = record;
  writeOwnFile(file, `${JSON.stringify(body, null, 2)}\n`);
}

/** Marks the record replaced by tend's own container (history kept). */
export function markReplaced(instancesDir: string, record: AdoptionRecord, by: string, at = new Date()): void {
  writeAdoptionRecord(instancesDir, { ...record, replacedAt: at.toISOString(), replacedBy: by });
}

export function removeAdoptionRecord(instancesDir: string, instance: string): void {
  rmSync(adoptionFile(instancesDir, instance), { force: true });
}
