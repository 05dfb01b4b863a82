// The lint rule keeps node:fs, child_process, execa, dockerode and drivers out of src/planner.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/cli.js';

const eslint = new ESLint({ cwd: REPO });

async function lintPlanner(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${REPO}src/planner/probe.ts` });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('planner purity lint rule', () => {
  const forbidden = [
    "import { readFileSync } from 'node:fs';",
    "import { readFile } from 'node:fs/promises';",
    "import { spawn } from 'node:child_process';",
    "import { execa } from 'execa';",
    "import Docker from 'dockerode';",
    "import { simpleGit } from 'simple-git';",
    "import { drivers } from '../drivers/registry.js';",
    "import { observeAll } from '../observe/index.js';",
  ];
  for (const line of forbidden) {
    it(`rejects ${line}`, async () => {
      const messages = await lintPlanner(`${line}\nexport const x = 1;\n`);
      expect(messages.length).toBe(1);
    });
  }

  it('allows driver types and the pure compare registry', async () => {
    const code = "import type { Driver } from '../drivers/types.js';\nimport { compares } from '../drivers/compare.js';\nexport const x: Driver | undefined = undefined;\nexport const y = compares;\n";
    expect(await lintPlanner(code)).toEqual([]);
  });

  it('the real planner passes the rule', async () => {
    const results = await eslint.lintFiles(['src/planner/**/*.ts']);
    const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line}: ${m.message}`));
    expect(results.length).toBeGreaterThan(5);
    expect(problems).toEqual([]);
  });
});
