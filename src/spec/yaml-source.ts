// Parses one YAML file keeping node positions, and maps a JSON path back to line:col.
import {
  LineCounter, parseAllDocuments, isMap, isSeq, isScalar, isPair, visit,
  type Alias, type Document, type Node, type Pair, type YAMLError,
} from 'yaml';
import type { Diagnostic } from '../model/types.js';
import { errorMessage } from '../shared/errors.js';

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
  const first = Array.isArray(docs) ? docs[0] : undefined;
  if (first === undefined) {
    // No document at all: an empty file, or one holding only comments (an EmptyStream).
    const message = text.trim() === '' ? 'the file is empty' : 'the file is empty (it holds only comments)';
    source.diagnostics.push({ severity: 'error', file, line: 1, col: 1, message });
    return source;
  }
  if (docs.length > 1) {
    const pos = lines.linePos(docs[1]!.range[0]);
    source.diagnostics.push({
      severity: 'error', file, line: pos.line, col: pos.col,
      message: `the file holds ${docs.length} YAML documents; one is expected`,
    });
  }
  const doc = first;
  source.diagnostics.push(...syntaxDiagnostics(file, text, doc, lines));
  if (source.diagnostics.length > 0) return source;
  try {
    source.value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    source.diagnostics.push(aliasDiagnostic(file, doc, lines, err));
    return source;
  }
  source.doc = doc;
  if (source.value === null || source.value === undefined) {
    source.diagnostics.push({ severity: 'error', file, line: 1, col: 1, message: 'the file is empty' });
  }
  return source;
}

/**
 * The parser's errors for one document, reworded where the yaml package's wording or position
 * does not help an operator: duplicate keys are named, an unclosed quote is reported where it
 * opens, and an over-indented key is reported at the key rather than at the value above it.
 */
function syntaxDiagnostics(file: string, text: string, doc: Document.Parsed, lines: LineCounter): Diagnostic[] {
  const errors: readonly YAMLError[] = doc.errors;
  const out: Diagnostic[] = [];
  const push = (offset: number, message: string) => {
    const pos = lines.linePos(offset);
    out.push({ severity: 'error', file, line: pos.line, col: pos.col, message });
  };
  // Over-indentation yields MULTILINE_IMPLICIT_KEY plus a BLOCK_AS_IMPLICIT_KEY at the same offset.
  const multiline = new Set(errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]));
  for (const err of errors) {
    const [start, end] = err.pos;
    if (err.code === 'BLOCK_AS_IMPLICIT_KEY' && multiline.has(start)) continue;
    if (err.code === 'DUPLICATE_KEY') {
      const dup = duplicateKey(doc, start);
      if (dup) {
        push(start, `duplicate key "${dup.key}" (first given at line ${lines.linePos(dup.firstOffset).line})`);
        continue;
      }
    }
    if (err.code === 'MISSING_CHAR' && /closing ["']quote/.test(err.message)) {
      const quote = err.message.includes(`"quote`) ? '"' : "'";
      const opened = unclosedQuoteStart(doc, start);
      if (opened !== undefined) {
        push(opened, `this quoted string is never closed: the closing ${quote} is missing`);
        continue;
      }
    }
    if (err.code === 'MULTILINE_IMPLICIT_KEY') {
      const over = overIndentedKey(text, start, end);
      if (over !== undefined) {
        const line = lines.linePos(start).line;
        push(over, `bad indentation: this key is indented deeper than line ${line}, so YAML reads it as part of the value that starts there`);
        continue;
      }
    }
    if (err.code === 'BLOCK_AS_IMPLICIT_KEY' && /:[ \t]+$/.test(text.slice(text.lastIndexOf('\n', start - 1) + 1, start))) {
      // `GREETING: hello: world`: the mapping starts right after a key on the same line.
      push(start, 'a nested mapping cannot start on the same line as its key; quote the value if ": " is part of the text');
      continue;
    }
    const pos = err.linePos?.[0] ?? { line: 1, col: 1 };
    out.push({ severity: 'error', file, line: pos.line, col: pos.col, message: yamlMessage(err.message) });
  }
  return out;
}

/** `toJS` throws for an alias without an anchor and for alias bombs; neither is a parser error. */
function aliasDiagnostic(file: string, doc: Document.Parsed, lines: LineCounter, err: unknown): Diagnostic {
  let unresolved: Alias | undefined;
  let firstAlias: Alias | undefined;
  visit(doc, {
    Alias(_, node) {
      firstAlias ??= node;
      if (node.resolve(doc) === undefined) {
        unresolved = node;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  const at = (node: Alias | undefined) => (node?.range ? lines.linePos(node.range[0]) : { line: 1, col: 1 });
  if (unresolved) {
    return { severity: 'error', file, ...at(unresolved), message: `alias *${unresolved.source} has no anchor &${unresolved.source} before it` };
  }
  const message = /alias count/i.test(String(err))
    ? 'aliases expand to too many nodes (over 100; a guard against alias bombs); not read'
    : yamlMessage(errorMessage(err));
  return { severity: 'error', file, ...at(firstAlias), message };
}

/** The duplicated key whose node starts at `offset`, and where that key first appears in its mapping. */
function duplicateKey(doc: Document.Parsed, offset: number): { key: string; firstOffset: number } | undefined {
  let found: { key: string; firstOffset: number } | undefined;
  visit(doc, {
    Pair(_, pair: Pair, path) {
      if (!isScalar(pair.key) || pair.key.range?.[0] !== offset) return undefined;
      const map = path[path.length - 1];
      const keyValue = pair.key.value;
      const first = isMap(map) ? map.items.find((p) => isScalar(p.key) && p.key.value === keyValue) : undefined;
      found = { key: String(keyValue), firstOffset: (first?.key as Node | undefined)?.range?.[0] ?? offset };
      return visit.BREAK;
    },
  });
  return found;
}

/** Start of the quoted scalar that the parser ran to `end` of without finding its closing quote. */
function unclosedQuoteStart(doc: Document.Parsed, end: number): number | undefined {
  let start: number | undefined;
  visit(doc, {
    Scalar(_, node) {
      if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && node.range?.[1] === end) {
        start = node.range[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return start;
}

/**
 * A plain value running from `start` into a `key:` on a later line (ending at `end`) is usually a
 * key indented deeper than its siblings. Returns the offset of that key, or undefined when the
 * key's line is not indented deeper than the line the value starts on.
 */
function overIndentedKey(text: string, start: number, end: number): number | undefined {
  const lineStart = (offset: number) => text.lastIndexOf('\n', offset - 1) + 1;
  const indent = (from: number) => /^ */.exec(text.slice(from))![0].length;
  const keyLine = lineStart(end);
  const valueLine = lineStart(start);
  if (keyLine === valueLine || indent(keyLine) <= indent(valueLine)) return undefined;
  return keyLine + indent(keyLine);
}

/** The yaml package appends "at line X, column Y:" and a code excerpt; keep the sentence, lowercased. */
function yamlMessage(message: string): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '');
  return /^[A-Z](?![A-Z])/.test(first) ? first[0]!.toLowerCase() + first.slice(1) : first;
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
      // An empty value (`port:`) has a zero-width node after the colon: point at the key instead.
      const empty = isScalar(node) && node.value === null && !!node.range && node.range[0] === node.range[1];
      best = (empty ? undefined : at(node)) ?? at(pair.key) ?? best;
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
