// Splits `source.build` into an argument array: a path to an executable plus arguments, never a shell.

const SHELL_SYNTAX = /^(&&|\|\||[|;<>&]|>>|2>|2>&1)$|^[<>]|[`]|\$\(/;

/** `./build.sh --release "two words"` -> ['./build.sh', '--release', 'two words']; throws on shell syntax. */
export function splitCommand(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | undefined;
  let inWord = false;
  let quoted = false;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
      quoted = true;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) push();
      continue;
    }
    cur += ch;
    inWord = true;
  }
  if (quote) throw new Error(`build command has an unclosed ${quote}: ${text}`);
  if (inWord) push();
  if (out.length === 0) throw new Error('build command is empty');
  return out;

  function push(): void {
    if (!quoted && SHELL_SYNTAX.test(cur)) {
      throw new Error(`build command "${text}" uses shell syntax (${cur}), but it runs without a shell: put the steps in a script such as ./build.sh`);
    }
    out.push(cur);
    cur = '';
    inWord = false;
    quoted = false;
  }
}
