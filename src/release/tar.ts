// A tiny read-only tar reader: is a file a readable image archive (`docker save` / OCI layout)?
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { errorMessage } from '../shared/errors.js';

export interface TarEntry {
  name: string;
  type: string;
  size: number;
  /** Offset of the entry's data in the file. */
  offset: number;
}

function cstr(buf: Buffer, start: number, len: number): string {
  const part = buf.subarray(start, start + len);
  const end = part.indexOf(0);
  return part.subarray(0, end === -1 ? len : end).toString('utf8');
}

function numeric(buf: Buffer, start: number, len: number): number {
  // Base-256 (GNU) for sizes beyond 8 GiB: the high bit of the first byte is set.
  if (buf[start]! & 0x80) {
    let v = buf[start]! & 0x7f;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + buf[i]!;
    return v;
  }
  const text = cstr(buf, start, len).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return numeric(header, 148, 8) === sum;
}

function paxPath(data: Buffer): string | undefined {
  let text = data.toString('utf8');
  while (text.length > 0) {
    const m = /^(\d+) /.exec(text);
    if (!m) return undefined;
    const len = Number(m[1]);
    const record = text.slice(m[0].length, len - 1);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') return record.slice(eq + 1);
    text = text.slice(len);
  }
  return undefined;
}

/** Every entry of a tar file (headers only); throws on a corrupt or truncated archive. */
export function listTar(file: string): TarEntry[] {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(512);
    const entries: TarEntry[] = [];
    let longName: string | undefined;
    let pos = 0;
    for (;;) {
      if (pos === size) break;
      if (pos + 512 > size) throw new Error('truncated tar header');
      readSync(fd, header, 0, 512, pos);
      if (header.every((b) => b === 0)) break;
      if (!checksumOk(header)) throw new Error(`bad tar header checksum at offset ${pos}`);
      const type = String.fromCharCode(header[156]! || 0x30);
      const entrySize = numeric(header, 124, 12);
      const offset = pos + 512;
      if (offset + entrySize > size) throw new Error('truncated tar entry');
      pos = offset + Math.ceil(entrySize / 512) * 512;
      if (type === 'L' || type === 'x') {
        const data = Buffer.alloc(entrySize);
        readSync(fd, data, 0, entrySize, offset);
        longName = type === 'L' ? cstr(data, 0, entrySize) : paxPath(data) ?? longName;
        continue;
      }
      if (type === 'g') continue;
      const prefix = cstr(header, 257, 5) === 'ustar' ? cstr(header, 345, 155) : '';
      const name = longName ?? (prefix ? `${prefix}/${cstr(header, 0, 100)}` : cstr(header, 0, 100));
      longName = undefined;
      entries.push({ name: name.replace(/^\.\//, ''), type, size: entrySize, offset });
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

function readEntry(file: string, entry: TarEntry): string {
  const fd = openSync(file, 'r');
  try {
    const data = Buffer.alloc(entry.size);
    readSync(fd, data, 0, entry.size, entry.offset);
    return data.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** undefined when `file` is a readable image archive (a tar with manifest.json or index.json), else the problem. */
export function imageArchiveProblem(file: string): string | undefined {
  let entries: TarEntry[];
  try {
    entries = listTar(file);
  } catch (err) {
    return `is not a readable tar archive (${errorMessage(err)})`;
  }
  const index = entries.find((e) => e.name === 'manifest.json' || e.name === 'index.json');
  if (!index) return 'is not an image archive (no manifest.json or index.json)';
  if (index.size > 16 * 1024 * 1024) return `has an implausibly large ${index.name}`;
  try {
    const value = JSON.parse(readEntry(file, index)) as unknown;
    const ok = index.name === 'manifest.json' ? Array.isArray(value) && value.length > 0 : typeof value === 'object' && value !== null;
    return ok ? undefined : `has an empty or malformed ${index.name}`;
  } catch {
    // the message names the entry; the parse error adds nothing for the operator
    return `has an unreadable ${index.name}`;
  }
}
