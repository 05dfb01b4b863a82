// Parses one YAML file keeping node positions, and maps a JSON path back to line:col.
import { LineCounter, parseAllDocuments, isMap, isSeq, isScalar, isPair, type Document, type Node } from 'yaml';
import type { Diagnostic } from '../model/types.js';

export interface YamlSource {
  file: string;
  doc?: Document.Parsed;
  value: unknown;
  diagnostics: Diagnostic[];
  lines: LineCounter;
}

export interface Position {
  line: number;
  col: number;
}

/** Parse `text`; syntax errors become diagnostics and leave `value` undefined. */
export function parseYamlSource(file: string, text: string): YamlSource {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const source: YamlSource = { file, value: undefined, diagnostics: [], lines };
  if (!Array.isArray(docs)) {
    // An empty stream comes back as an EmptyStream.
    source.diagnostics.push({ severity: 'error', file, line: 1, col: 1, message: 'the file is empty' });
    return source;
  }
  if (docs.length > 1) {
    const pos = lines.linePos(docs[1]!.range[0]);
    source.diagnostics.push({
      severity: 'error', file, line: pos.line, col: pos.col,
      message: `the file holds ${docs.length} YAML documents; one is expected`,
    });
  }
  const doc = docs[0]!;
  for (const err of doc.errors) {
    const pos = err.linePos?.[0] ?? { line: 1, col: 1 };
    source.diagnostics.push({ severity: 'error', file, line: pos.line, col: pos.col, message: yamlMessage(err.message) });
  }
  if (source.diagnostics.length > 0) return source;
  source.doc = doc;
  source.value = doc.toJS({ maxAliasCount: 100 });
  if (source.value === null || source.value === undefined) {
    source.diagnostics.push({ severity: 'error', file, line: 1, col: 1, message: 'the file is empty' });
  }
  return source;
}

/** The yaml package appends "at line X, column Y:" and a code excerpt; keep the sentence. */
function yamlMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '');
}

/**
 * Position of the node at `path` (keys and indexes). With `key`, the position of the
 * map key itself. Falls back to the deepest existing ancestor, then to 1:1.
 */
export function positionOf(source: YamlSource, path: readonly (string | number)[], key = false): Position {
  let node: unknown = source.doc?.contents;
  let best: Position = { line: 1, col: 1 };
  const at = (n: unknown): Position | undefined => {
    const range = (n as Node | undefined)?.range;
    return range ? source.lines.linePos(range[0]) : undefined;
  };
  best = at(node) ?? best;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return best;
      if (last && key) return at(pair.key) ?? best;
      node = pair.value;
      best = at(node) ?? at(pair.key) ?? best;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node === undefined) return best;
      best = at(node) ?? best;
    } else {
      return best;
    }
  }
  return best;
}

/** True when the document holds a value at `path` (as opposed to one coming from defaults). */
export function hasPath(source: YamlSource, path: readonly (string | number)[]): boolean {
  return source.doc?.hasIn(path) ?? false;
}
