#!/usr/bin/env node
// Keeps docs/commands.md true to the CLI: fills every block
//
//   <!-- help: tend releases build -->
//   ```text
//   ...the output of `tend releases build --help`...
//   ```
//   <!-- /help -->
//
// with that command's help as commander prints it (80 columns, no colours), from the built CLI
// (dist/: run `npm run build` first). Every command and nested subcommand must have exactly one
// block, and every block must name a command: a new command without a section fails too.
//
// Usage: node scripts/gen-commands-doc.mjs           rewrite docs/commands.md
//        node scripts/gen-commands-doc.mjs --check   exit 1 when it is out of date (test/docs.test.ts)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DOC = fileURLToPath(new URL('../docs/commands.md', import.meta.url));
const BLOCK = /<!-- help: (tend(?: [a-z-]+)*) -->\n```text\n[\s\S]*?\n```\n<!-- \/help -->/g;

/** Every command of the program, depth first, with its path (`tend`, `tend agent install`, ...). */
function commandsOf(cmd, path = cmd.name()) {
  return [[path, cmd], ...cmd.commands.flatMap((sub) => commandsOf(sub, `${path} ${sub.name()}`))];
}

/** What `<path> --help` prints, with fixed width and no colours whatever the terminal. */
function helpOf(cmd) {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => { out += s; }, getOutHelpWidth: () => 80, getOutHasColors: () => false });
  cmd.outputHelp();
  return out.split('\n').map((l) => l.trimEnd()).join('\n').trim();
}

export async function generate(text) {
  const { buildProgram } = await import('../dist/cli/program.js');
  const program = await buildProgram();
  const helps = new Map(commandsOf(program).map(([path, cmd]) => [path, helpOf(cmd)]));
  const problems = [];
  const seen = new Set();
  const updated = text.replace(BLOCK, (block, path) => {
    if (seen.has(path)) problems.push(`two blocks for ${path}`);
    seen.add(path);
    const help = helps.get(path);
    if (help === undefined) {
      problems.push(`a block for ${path}, which is not a command`);
      return block;
    }
    return `<!-- help: ${path} -->\n\`\`\`text\n${help}\n\`\`\`\n<!-- /help -->`;
  });
  for (const path of helps.keys()) if (!seen.has(path)) problems.push(`no block for ${path} (add <!-- help: ${path} --> ... <!-- /help -->)`);
  return { updated, problems };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const check = process.argv.includes('--check');
  const text = readFileSync(DOC, 'utf8');
  const { updated, problems } = await generate(text);
  for (const p of problems) console.error(`docs/commands.md: ${p}`);
  if (check) {
    if (updated !== text) console.error('docs/commands.md is out of date with the CLI: run node scripts/gen-commands-doc.mjs (after npm run build)');
    process.exitCode = updated !== text || problems.length > 0 ? 1 : 0;
  } else {
    if (updated !== text) writeFileSync(DOC, updated);
    console.log(updated !== text ? 'docs/commands.md updated' : 'docs/commands.md is up to date');
    process.exitCode = problems.length > 0 ? 1 : 0;
  }
}
