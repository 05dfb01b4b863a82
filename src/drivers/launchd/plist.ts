// XML property lists by hand: render (escaped, deterministic) and parse (the XML subset launchd reads).
//
// Rendering never goes through a shell or a template engine: every value is escaped here. XML 1.0
// cannot carry most control characters at all, so a value holding one is refused (naming its key,
// never the value); a carriage return is written as `&#13;` so parsers do not fold it into `\n`.

export type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };
export type PlistDict = { [key: string]: PlistValue };

const HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'
  + '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
  + '<plist version="1.0">\n';

/** Characters XML 1.0 cannot hold, even as references (tab, LF and CR are fine). */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Escapes text content; `where` names the key in the error when the text cannot be XML. */
export function escapeXml(text: string, where: string): string {
  if (NOT_XML.test(text)) throw new Error(`${where}: the value holds a character an XML property list cannot carry`);
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('\r', '&#13;');
}

function renderValue(value: PlistValue, indent: string, where: string): string {
  if (typeof value === 'string') return `${indent}<string>${escapeXml(value, where)}</string>\n`;
  if (typeof value === 'boolean') return `${indent}<${value}/>\n`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`${where}: only integers are rendered (got ${value})`);
    return `${indent}<integer>${value}</integer>\n`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}<array/>\n`;
    const items = value.map((v, i) => renderValue(v, `${indent}\t`, `${where}[${i}]`)).join('');
    return `${indent}<array>\n${items}${indent}</array>\n`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return `${indent}<dict/>\n`;
  const body = entries
    .map(([k, v]) => `${indent}\t<key>${escapeXml(k, `${where} key`)}</key>\n${renderValue(v, `${indent}\t`, `${where}.${k}`)}`)
    .join('');
  return `${indent}<dict>\n${body}${indent}</dict>\n`;
}

/** A complete XML plist document for `dict`, keys in the order given. */
export function renderPlist(dict: PlistDict): string {
  return `${HEADER}${renderValue(dict, '', 'plist')}</plist>\n`;
}

// ---- parsing ---------------------------------------------------------------

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    const named = ENTITIES[ref];
    if (named === undefined) throw new Error(`unknown entity ${whole}`);
    return named;
  });
}

type Token = { kind: 'open' | 'close' | 'empty'; name: string } | { kind: 'text'; text: string };

function tokenize(xml: string): Token[] {
  const out: Token[] = [];
  const re = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of xml.matchAll(re)) {
    if (m[6] !== undefined) throw new Error('malformed XML: stray <');
    if (m[5] !== undefined) {
      out.push({ kind: 'text', text: m[5] });
    } else if (m[2] !== undefined) {
      const kind = m[1] === '/' ? 'close' : m[4] === '/' ? 'empty' : 'open';
      out.push({ kind, name: m[2] });
    }
  }
  return out;
}

class Reader {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  /** The next tag, skipping whitespace-only text. */
  private nextTag(): Exclude<Token, { kind: 'text' }> {
    for (;;) {
      const t = this.tokens[this.i++];
      if (t === undefined) throw new Error('unexpected end of the property list');
      if (t.kind !== 'text') return t;
      if (t.text.trim() !== '') throw new Error('text outside of a value');
    }
  }

  /** Text up to the closing tag `name` (empty when it closes at once). */
  private textUntil(name: string): string {
    let text = '';
    for (;;) {
      const t = this.tokens[this.i++];
      if (t === undefined) throw new Error(`unclosed <${name}>`);
      if (t.kind === 'text') {
        text += t.text;
        continue;
      }
      if (t.kind === 'close' && t.name === name) return decode(text);
      throw new Error(`unexpected <${t.name}> inside <${name}>`);
    }
  }

  value(tag = this.nextTag()): PlistValue {
    const { name, kind } = tag;
    if (kind === 'close') throw new Error(`unexpected </${name}>`);
    const empty = kind === 'empty';
    switch (name) {
      case 'string':
      case 'date':
      case 'data':
        return empty ? '' : this.textUntil(name);
      case 'integer':
      case 'real': {
        const n = Number(empty ? '' : this.textUntil(name).trim());
        if (!Number.isFinite(n)) throw new Error(`<${name}> is not a number`);
        return n;
      }
      case 'true':
      case 'false':
        if (!empty && this.nextTag().name !== name) throw new Error(`unclosed <${name}>`);
        return name === 'true';
      case 'array': {
        const items: PlistValue[] = [];
        if (empty) return items;
        for (let t = this.nextTag(); !(t.kind === 'close' && t.name === 'array'); t = this.nextTag()) items.push(this.value(t));
        return items;
      }
      case 'dict': {
        const dict: PlistDict = {};
        if (empty) return dict;
        for (let t = this.nextTag(); !(t.kind === 'close' && t.name === 'dict'); t = this.nextTag()) {
          if (t.name !== 'key' || t.kind !== 'open') throw new Error(`expected <key> in <dict>, found <${t.name}>`);
          const key = this.textUntil('key');
          dict[key] = this.value();
        }
        return dict;
      }
      default:
        throw new Error(`unknown element <${name}>`);
    }
  }

  document(): PlistValue {
    const root = this.nextTag();
    if (root.name !== 'plist' || root.kind !== 'open') throw new Error('not an XML property list (no <plist>)');
    const v = this.value();
    if (this.nextTag().name !== 'plist') throw new Error('more than one value in <plist>');
    return v;
  }
}

/** Parses an XML plist; throws on anything else (a binary plist, malformed XML). */
export function parsePlist(xml: string): PlistValue {
  if (xml.startsWith('bplist')) throw new Error('a binary property list (only XML is read)');
  return new Reader(tokenize(xml)).document();
}

export function isDict(v: PlistValue | undefined): v is PlistDict {
  return v !== undefined && typeof v === 'object' && !Array.isArray(v);
}
