#!/usr/bin/env node
// tend's log stamper: reads an instance's output (stdin) and writes it to stdout one line at a time,
// each line prefixed with the time its first byte arrived: `2026-01-02T03:04:05.678Z <line>`.
//
// tend runs it by absolute path from its own installation (never from a place an instance can write),
// with no secrets in its argv:
//   - tmux: `pipe-pane` runs `exec <node> <this file> --terminal >> <log file>` (stdin: the pane's output);
//   - systemd (systemd.output: files): a companion unit `<unit>.log.service` whose stdin is the FIFO the
//     instance's unit writes to (`<unit>.log.socket`, ListenFIFO=) and whose stdout is the log file.
//
// --terminal (tmux): the input is what a terminal would show, so ANSI escape sequences (colours, cursor
// moves, titles) are dropped, `\r\n` ends a line, a lone `\r` starts the line over (a progress bar keeps
// its last state), backspace erases, and other control characters are dropped. Without it only `\n`
// ends a line (a `\r` before it is dropped) and everything else is kept as written.
//
// A line still open after IDLE_MS without new input is written as it is (a prompt, a progress dot),
// and so is a line longer than MAX_LINE characters. At end of input, SIGTERM or SIGINT the open line
// is written and the stamper exits 0; on SIGTERM it first reads what is already waiting (systemd).
import { Buffer } from 'node:buffer';
import { readSync, realpathSync, writeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

export const IDLE_MS = 1000;
export const MAX_LINE = 16 * 1024;

const ESC = '\x1b';

/** Splits text into stamped lines; keeps the escape-sequence state and the open line across chunks. */
export class LineStamper {
  /**
   * @param {{ terminal?: boolean, maxLine?: number }} [opts]
   */
  constructor(opts = {}) {
    this.terminal = opts.terminal === true;
    this.maxLine = opts.maxLine ?? MAX_LINE;
    /** @type {string} */
    this.line = '';
    /** @type {number | undefined} when the open line's first character arrived */
    this.startedAt = undefined;
    /** @type {'text' | 'esc' | 'csi' | 'str' | 'str-esc' | 'cr'} where the input stands: in text, an escape sequence, or after a `\r` */
    this.state = 'text';
  }

  /**
   * Feeds text that arrived at `now` (epoch ms); returns the finished lines, stamped, each ending in `\n`.
   * @param {string} text
   * @param {number} now
   * @returns {string}
   */
  push(text, now) {
    let out = '';
    for (const ch of text) {
      out += this.terminal ? this.terminalChar(ch, now) : this.plainChar(ch, now);
    }
    return out;
  }

  /**
   * The open line (if it has any text), stamped; the line is then empty.
   * @returns {string}
   */
  flush() {
    if (this.state === 'cr') this.state = 'text';
    return this.line === '' && this.startedAt === undefined ? '' : this.end();
  }

  /** @returns {string} */
  end() {
    const at = this.startedAt ?? Date.now();
    const line = `${new Date(at).toISOString()} ${this.line}\n`;
    this.line = '';
    this.startedAt = undefined;
    return line;
  }

  /**
   * @param {string} ch
   * @param {number} now
   * @returns {string}
   */
  add(ch, now) {
    if (this.startedAt === undefined) this.startedAt = now;
    this.line += ch;
    return this.line.length >= this.maxLine ? this.end() : '';
  }

  /**
   * @param {string} ch
   * @param {number} now
   * @returns {string}
   */
  plainChar(ch, now) {
    if (this.state === 'cr') {
      this.state = 'text';
      if (ch === '\n') return this.end();
      const held = this.add('\r', now);
      return held + this.plainChar(ch, now);
    }
    if (ch === '\n') {
      if (this.startedAt === undefined) this.startedAt = now;
      return this.end();
    }
    if (ch === '\r') {
      if (this.startedAt === undefined) this.startedAt = now;
      this.state = 'cr';
      return '';
    }
    return this.add(ch, now);
  }

  /**
   * @param {string} ch
   * @param {number} now
   * @returns {string}
   */
  terminalChar(ch, now) {
    const c = ch.codePointAt(0) ?? 0;
    switch (this.state) {
      case 'esc':
        // ESC [ : CSI; ESC ] P X ^ _ : a string ended by BEL or ESC \; intermediates (0x20-0x2f) then a final byte otherwise.
        if (ch === '[') this.state = 'csi';
        else if (ch === ']' || ch === 'P' || ch === 'X' || ch === '^' || ch === '_') this.state = 'str';
        else if (c >= 0x20 && c <= 0x2f) this.state = 'esc';
        else this.state = 'text';
        return '';
      case 'csi':
        // parameters and intermediates (0x20-0x3f) until a final byte (0x40-0x7e)
        if (c >= 0x40 && c <= 0x7e) this.state = 'text';
        else if (c < 0x20 || c > 0x7e) {
          this.state = 'text';
          return this.terminalChar(ch, now);
        }
        return '';
      case 'str':
        if (ch === '\x07') this.state = 'text';
        else if (ch === ESC) this.state = 'str-esc';
        return '';
      case 'str-esc':
        this.state = ch === '\\' ? 'text' : 'str';
        return '';
      case 'cr':
        this.state = 'text';
        if (ch === '\n') return this.end();
        if (ch === '\r') {
          this.state = 'cr';
          return '';
        }
        // A lone carriage return: what follows overwrites the line, as on a terminal.
        this.line = '';
        return this.terminalChar(ch, now);
      default:
        break;
    }
    if (ch === ESC) {
      this.state = 'esc';
      return '';
    }
    if (c === 0x9b) {
      this.state = 'csi';
      return '';
    }
    if (ch === '\n') {
      if (this.startedAt === undefined) this.startedAt = now;
      return this.end();
    }
    if (ch === '\r') {
      if (this.startedAt === undefined) this.startedAt = now;
      this.state = 'cr';
      return '';
    }
    if (ch === '\b' || c === 0x7f) {
      this.line = [...this.line].slice(0, -1).join('');
      return '';
    }
    if (ch !== '\t' && (c < 0x20 || (c >= 0x80 && c < 0xa0))) return '';
    return this.add(ch, now);
  }
}

/** Writes all of `text` to fd 1 (a regular file opened for appending: short writes are rare but possible). */
function writeOut(text) {
  if (text === '') return;
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(1, buf, off, buf.length - off);
}

function main(argv) {
  const stamper = new LineStamper({ terminal: argv.includes('--terminal') });
  const decoder = new StringDecoder('utf8');
  let idle;
  const take = (chunk) => {
    writeOut(stamper.push(decoder.write(chunk), Date.now()));
    clearTimeout(idle);
    if (stamper.line !== '') idle = setTimeout(() => writeOut(stamper.flush()), IDLE_MS);
  };
  const finish = () => {
    clearTimeout(idle);
    writeOut(stamper.push(decoder.end(), Date.now()));
    writeOut(stamper.flush());
    process.exit(0);
  };
  /** What is already waiting on stdin (a nonblocking FIFO under systemd): read it before leaving. */
  const drain = () => {
    const buf = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 1024; i++) {
      let n;
      try {
        n = readSync(0, buf, 0, buf.length, null);
      } catch {
        return; // EAGAIN: nothing more waits
      }
      if (n <= 0) return;
      take(buf.subarray(0, n));
    }
  };
  process.on('SIGHUP', () => undefined);
  process.on('SIGINT', finish);
  process.on('SIGTERM', () => {
    process.stdin.pause();
    drain();
    finish();
  });
  process.stdin.on('data', take);
  process.stdin.on('end', finish);
  process.stdin.on('error', (err) => {
    writeOut(stamper.flush());
    process.stderr.write(`tend-logstamp: cannot read the output: ${err.message}\n`);
    process.exit(1);
  });
}

const self = fileURLToPath(import.meta.url);
const invoked = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(self);
  } catch {
    return false;
  }
})();
if (invoked) main(process.argv.slice(2));
