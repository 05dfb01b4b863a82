#!/usr/bin/env node
// Reads a vitest JSON report (--reporter=json --outputFile.json=FILE) and prints,
// as its last line,
//
//   tests: N passed, N failed, N skipped
//
// Exits non-zero when the report is missing or unreadable, when any test failed
// (a test file that failed to load counts as one failed test), when any test was
// skipped or todo (CI runs with TEND_REQUIRE_BACKENDS=1, where a skip means a
// backend or a test is missing: that is a failure), or when no test ran.
//
// Usage: node scripts/ci-summary.mjs REPORT.json
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const file = process.argv[2];

function finish(passed, failed, skipped, problems) {
  for (const p of problems) console.log(`ci-summary: ${p}`);
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = problems.length > 0 ? 1 : 0;
}

if (!file) {
  finish(0, 0, 0, ['usage: node scripts/ci-summary.mjs REPORT.json']);
} else {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    report = undefined;
    finish(0, 0, 0, [
      `no readable vitest JSON report at ${file} (${e.message}); ` +
        'did typecheck or lint fail before the tests ran, or vitest crash?',
    ]);
  }
  if (report) summarize(report);
}

function summarize(report) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failedNames = [];
  const skippedNames = [];
  const brokenFiles = [];

  for (const tf of report.testResults ?? []) {
    const name = relative(process.cwd(), tf.name ?? '?');
    let fileFailures = 0;
    for (const a of tf.assertionResults ?? []) {
      const title = `${name} > ${a.fullName ?? a.title}`;
      switch (a.status) {
        case 'passed':
          passed++;
          break;
        case 'failed':
          failed++;
          fileFailures++;
          failedNames.push(title);
          break;
        default: // skipped, pending, todo, disabled
          skipped++;
          skippedNames.push(`${title} [${a.status}]`);
      }
    }
    if (tf.status === 'failed' && fileFailures === 0) {
      // The file failed without a failing test: import error, failing hook, ...
      failed++;
      const msg = String(tf.message ?? '').split('\n')[0];
      brokenFiles.push(`${name}${msg ? `: ${msg}` : ''}`);
    }
  }

  const problems = [];
  if (failedNames.length) problems.push(`failed tests:\n  ${failedNames.join('\n  ')}`);
  if (brokenFiles.length) problems.push(`test files that failed outside any test:\n  ${brokenFiles.join('\n  ')}`);
  if (skippedNames.length) {
    problems.push(
      `skipped or todo tests count as failures here (TEND_REQUIRE_BACKENDS=1: every backend must be present):\n  ` +
        skippedNames.join('\n  '),
    );
  }
  if (passed + failed + skipped === 0) problems.push('no tests ran');
  if (report.success === false && problems.length === 0) problems.push('vitest reported the run as unsuccessful');
  finish(passed, failed, skipped, problems);
}
