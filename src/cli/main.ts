#!/usr/bin/env node
// Entry point of the `tend` binary.
import { buildProgram } from './program.js';
import { errorMessage, exitCodeOf } from '../shared/errors.js';
import { keepWorkingWhenOutputCloses } from './stdio.js';

keepWorkingWhenOutputCloses();

buildProgram(process.argv.slice(2))
  .then((program) => program.parseAsync(process.argv))
  .catch((err: unknown) => {
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    process.exitCode = exitCodeOf(err);
  });
