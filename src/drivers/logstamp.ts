// tend's log stamper (libexec/tend-logstamp.mjs): the program that writes an instance's output to its
// log file with the time of each line. Run by absolute path from tend's own installation with the node
// that runs tend, never from a place an instance can write; its argv holds no secret.
import { fileURLToPath } from 'node:url';

/** libexec/ at the package root (two levels up from src/drivers and dist/drivers). */
export const STAMPER = fileURLToPath(new URL('../../libexec/tend-logstamp.mjs', import.meta.url));

/** The stamper's argv: `--terminal` for a tmux pane's output (escape sequences and `\r` dropped). */
export function stamperArgv(terminal: boolean): string[] {
  return [process.execPath, STAMPER, ...(terminal ? ['--terminal'] : [])];
}

/** A tend stamp at the start of a line: `2026-01-02T03:04:05.678Z ` (what the stamper writes). */
export const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) /;
