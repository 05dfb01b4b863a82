// Runs buildRelease from the built dist/ in a process of its own (interrupt and concurrency tests).
// Usage: node build-release.mjs '<BuildOptions as JSON>'; prints {"outcome": ...} and exits 0, or exits 1.
import { buildRelease } from '../../dist/release/build.js';

const opts = JSON.parse(process.argv[2]);
try {
  const r = await buildRelease({ ...opts, log: (level, message) => process.stderr.write(`${level}: ${message}\n`) });
  process.stdout.write(`${JSON.stringify({ outcome: r.outcome, pid: process.pid })}\n`);
} catch (err) {
  process.stderr.write(`error: ${err.message}\n`);
  process.exitCode = 1;
}
