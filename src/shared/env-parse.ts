// Parses an instance .env (KEY=VALUE lines) and reports, by line:col, every line systemd's EnvironmentFile= would read differently.
import type { EnvProblem } from '../model/types.js';

/** `s`: a lone CR inside a line belongs to the value (and is reported), it does not hide the line. */
const LINE = /^(export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/s;
/** C0 controls but tab, and DEL: systemd splits lines at CR and tmux/launchd refuse most of the others. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

interface Read {
  value: string;
  /** Offset into the value text and what is wrong there (never the value itself). */
  problem?: { at: number; message: string };
}

/** A double-quoted value: only \" and \\ are escapes that tend and systemd read alike. */
function doubleQuoted(v: string, key: string): Read {
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') {
      const next = v[i + 1];
      if (next !== '"' && next !== '\\') {
        return { value: v, problem: { at: i, message: `a backslash escape other than \\" or \\\\ in the double-quoted value of ${key}: systemd's EnvironmentFile= and tend read it differently; use single quotes` } };
      }
      out += next;
      i++;
    } else if (c === '"') {
      return closed(v, i, out, key);
    } else {
      out += c;
    }
  }
  return { value: v.slice(1), problem: { at: 0, message: unclosed(key, '"') } };
}

function singleQuoted(v: string, key: string): Read {
  const end = v.indexOf("'", 1);
  if (end < 0) return { value: v.slice(1), problem: { at: 0, message: unclosed(key, "'") } };
  return closed(v, end, v.slice(1, end), key);
}

function closed(v: string, end: number, value: string, key: string): Read {
  const rest = v.slice(end + 1);
  const extra = rest.search(/\S/);
  if (extra < 0) return { value };
  return { value: v, problem: { at: end + 1 + extra, message: `text after the closing quote of ${key}'s value: systemd's EnvironmentFile= appends it, tend does not; quote the whole value` } };
}

function unclosed(key: string, quote: string): string {
  return `the value of ${key} opens a ${quote} that is never closed on its line: systemd's EnvironmentFile= would read the lines after it into the value and lose their keys`;
}

function readValue(v: string, key: string): Read {
  const control = CONTROL.exec(v);
  if (control) return { value: v, problem: { at: control.index, message: `a control character in the value of ${key}: systemd's EnvironmentFile= ends the line there` } };
  if (v.startsWith('"')) return doubleQuoted(v, key);
  if (v.startsWith("'")) return singleQuoted(v, key);
  const slash = v.indexOf('\\');
  if (slash >= 0) {
    return { value: v, problem: { at: slash, message: `a backslash in the unquoted value of ${key}: systemd's EnvironmentFile= drops it (a trailing one joins the next line); put the value in single quotes` } };
  }
  return { value: v };
}

/**
 * KEY=VALUE lines (quoted values, comments and blanks skipped) as a map. With `problems`, every line that
 * tend and systemd's EnvironmentFile= would read differently (an unclosed quote, text after a closing quote,
 * a backslash escape, `export`, a control character) is added to it with its line and column; such a line's
 * value is kept as written (an unclosed quote dropped) for the log scrubber. Problems name keys, never values.
 */
export function parseEnvFile(text: string, problems?: EnvProblem[]): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const m = LINE.exec(line);
    if (!m) return;
    const key = m[2]!;
    const rawValue = m[3]!;
    const read = readValue(rawValue, key);
    out.set(key, read.value);
    if (!problems) return;
    if (m[1]) {
      problems.push({ line: i + 1, col: indent + 1, key, message: `"export" before ${key}: systemd's EnvironmentFile= ignores this line, so ${key} would be missing there; remove "export "` });
    } else if (read.problem) {
      problems.push({ line: i + 1, col: indent + line.length - rawValue.length + read.problem.at + 1, key, message: read.problem.message });
    }
  });
  return out;
}

