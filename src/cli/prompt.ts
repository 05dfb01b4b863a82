// Questions on the terminal (hidden input for secrets, yes/no) and values from stdin; prompts go to stderr.
import { createInterface } from 'node:readline';
import { TendError } from '../shared/errors.js';

/** stdin and stderr are both a terminal: questions can be asked. */
export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Ctrl-C (or Ctrl-D on an empty answer) at a prompt. */
export class PromptCancelled extends TendError {
  constructor() {
    super('cancelled at the prompt', { kind: 'user' });
  }
}

/** Reads one line from the terminal without echoing it (backspace and Ctrl-U edit; Ctrl-C cancels). */
export function askHidden(question: string): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    process.stderr.write(question);
    const finish = (err?: Error) => {
      input.removeListener('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new PromptCancelled());
        if (ch === '\u0004') return value === '' ? finish(new PromptCancelled()) : finish();
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015') value = '';
        else if (ch >= ' ') value += ch;
      }
    };
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
  });
}

/** Asks a yes/no question on the terminal; only `y` or `yes` is yes. */
export function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    let answered = false;
    rl.on('close', () => {
      if (!answered) resolve(false);
    });
    rl.question(`${question} [y/N] `, (answer) => {
      answered = true;
      rl.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
  });
}

/** All of stdin as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** A value read from stdin: everything, less one final line break. */
export async function readStdinValue(): Promise<string> {
  return (await readStdin()).replace(/\r?\n$/, '');
}
