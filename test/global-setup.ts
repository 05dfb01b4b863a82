// Around every vitest run: the real backends first (scripts/backends.sh where they do not answer and
// this process may start them; else what to run instead), and after the run a leak check that fails
// it when the tests left a unit, container, tmux session or process of their own behind.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBackends } from './helpers/ensure-backends.js';
import { findLeaks, leakReport, snapshot } from './helpers/leaks.js';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));

export default async function setup(): Promise<() => Promise<void>> {
  await ensureBackends({ repo: REPO, log: (l) => console.log(l) });
  // Workers inherit both (forked after this): test/setup-worker.ts records each worker's PID in the
  // run folder; every process the tests start carries the mark unless a test clears its env.
  const runDir = mkdtempSync(join(tmpdir(), 'tend-test-run-'));
  const mark = randomBytes(6).toString('hex');
  process.env.TEND_TEST_RUN_DIR = runDir;
  process.env.TEND_TEST_RUN = mark;
  const before = await snapshot();
  return async () => {
    let pids: number[] = [];
    try {
      pids = [...new Set(readFileSync(join(runDir, 'workers'), 'utf8').split('\n').filter(Boolean).map(Number))];
    } catch { /* no test file ran */ }
    rmSync(runDir, { recursive: true, force: true });
    if (process.env.TEND_LEAK_CHECK === '0') return;
    const leaks = await findLeaks(before, pids, mark);
    if (leaks.length > 0) throw new Error(leakReport(leaks));
    console.log(`leak check: nothing of this run's ${pids.length} worker(s) is left (units, containers, tmux sockets and sessions, processes)`);
  };
}
