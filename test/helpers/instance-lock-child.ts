// A second tend-like process for the instance lock tests, run with vite-node.
// Usage: vite-node instance-lock-child.ts <instancesDir> <name> hold|try [timeoutMs]
// Prints one JSON event per line: held, waiting (with the owner), acquired, error. `hold` releases on a stdin line.
import { createInterface } from 'node:readline';
import { withInstanceLock } from '../../src/state/lock.js';

const [instances, name, mode, timeout] = process.argv.slice(2) as [string, string, 'hold' | 'try', string | undefined];
const say = (event: string, extra: object = {}) => process.stdout.write(`${JSON.stringify({ event, pid: process.pid, ...extra })}\n`);

try {
  await withInstanceLock({ instances }, name, async () => {
    if (mode === 'try') return say('acquired');
    say('held');
    const rl = createInterface({ input: process.stdin });
    for await (const _line of rl) break;
    rl.close();
  }, { timeoutMs: Number(timeout ?? 10_000), purpose: `child ${mode}`, onWait: (owner) => say('waiting', { owner }), onStale: (owner) => say('stale', { owner }) });
  say('released');
} catch (err) {
  say('error', { message: (err as Error).message });
  process.exitCode = 1;
}
