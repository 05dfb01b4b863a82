// What apply or build would refuse, found at load time with file:line:col: control characters in env and config values, a build command the builder will not run.
import type { Diagnostic } from '../model/types.js';
import { splitCommand } from '../shared/command.js';
import { isPlainObject } from './merge.js';
import { positionOf, type YamlSource } from './yaml-source.js';
import { errorMessage } from '../shared/errors.js';

type Path = (string | number)[];

/** C0 controls and DEL; tab is allowed (YAML, config.yaml, Docker, tmux and launchd all carry it). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function codePoint(c: string): string {
  return `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `env.BELL`, `config.list[1]`; a key that is not plain text is shown JSON-quoted (no control character reaches a terminal). */
export function pathLabel(path: Path): string {
  return path.map((seg, i) => {
    if (typeof seg === 'number') return `[${seg}]`;
    const shown = /^[\w-]+$/.test(seg) ? seg : JSON.stringify(seg);
    return i === 0 ? shown : `.${shown}`;
  }).join('');
}

/**
 * Every string under `value` (and every mapping key) holding a control character other than tab, as an
 * error at its position in `source`. `path` is where `value` sits in the document; `label` its name in messages.
 */
export function controlCharDiagnostics(source: YamlSource, path: Path, value: unknown, label: Path = path): Diagnostic[] {
  const out: Diagnostic[] = [];
  const visit = (v: unknown, at: Path, named: Path) => {
    if (typeof v === 'string') {
      const m = CONTROL.exec(v);
      if (m) {
        out.push({
          severity: 'error', file: source.file, ...positionOf(source, at),
          message: `${pathLabel(named)} contains a control character (${codePoint(m[0])}); tend refuses to apply it (tab is the only one allowed)`,
        });
      }
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => visit(item, [...at, i], [...named, i]));
    } else if (isPlainObject(v)) {
      for (const [k, item] of Object.entries(v)) {
        const m = CONTROL.exec(k);
        if (m) {
          out.push({
            severity: 'error', file: source.file, ...positionOf(source, [...at, k], true),
            message: `${pathLabel([...named, k])}: the key contains a control character (${codePoint(m[0])}); tend refuses to apply it`,
          });
        }
        visit(item, [...at, k], [...named, k]);
      }
    }
  };
  visit(value, path, label);
  return out;
}

/** A tab in an env value is fine everywhere but in a systemd unit (Environment= lines): an error for runtime systemd. */
export function systemdTabDiagnostics(source: YamlSource, env: Record<string, string>, own: Record<string, unknown>): Diagnostic[] {
  return Object.entries(env).filter(([, v]) => v.includes('\t')).map(([k]) => {
    const mine = Object.hasOwn(own, k);
    return {
      severity: 'error', file: source.file, ...positionOf(source, mine ? ['env', k] : []),
      message: `${pathLabel(['env', k])}${mine ? '' : ' (from tend.yaml defaults)'} contains a tab, which a systemd unit cannot hold (runtime systemd)`,
    };
  });
}

/** `source.build` as the builder will split it (src/shared/command.ts): shell syntax, an unclosed quote, nothing at all. */
export function buildCommandDiagnostics(source: YamlSource, build: unknown): Diagnostic[] {
  if (typeof build !== 'string') return [];
  try {
    splitCommand(build);
    return [];
  } catch (err) {
    return [{ severity: 'error', file: source.file, ...positionOf(source, ['source', 'build']), message: `source.build: ${errorMessage(err)}` }];
  }
}
