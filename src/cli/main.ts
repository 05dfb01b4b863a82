#!/usr/bin/env node
// Entry point of the `tend` binary.
import { buildProgram } from './program.js';
import { keepWorkingWhenOutputCloses } from './stdio.js';

keepWorkingWhenOutputCloses();

buildProgram(process.argv.slice(2))
  .then((program) => program.parseAsync(process.argv))
  .catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
