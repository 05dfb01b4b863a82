// In each test worker: record its PID for the run's leak check (test/global-setup.ts), which knows
// what a test made by the PID in its name.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.TEND_TEST_RUN_DIR;
if (dir) appendFileSync(join(dir, 'workers'), `${process.pid}\n`);
