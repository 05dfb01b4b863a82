// The executor writes the planner's status records as they are: only {reason} and {at} are filled in,
// and a reason is inserted literally (no `$` patterns, no second substitution).
import { describe, expect, it } from 'vitest';
import { writeRecord } from '../src/executor/record.js';
import { readStatus, statusPath } from '../src/state/status.js';
import { useScratch } from './helpers/scratch.js';
import type { RootPaths } from '../src/spec/config.js';

const scratch = useScratch();

describe('writeRecord', () => {
  it('fills {reason} literally, $$ and {at} in the reason included, and {at} with the time', () => {
    const root = scratch('records');
    const paths = { root, desired: `${root}/desired`, releases: `${root}/releases`, instances: `${root}/instances` } as RootPaths;
    const lines: string[] = [];
    const reason = "exit $$ 1: $& $' {at}";
    writeRecord({ paths, updatedBy: 'test', log: (_l, m) => void lines.push(m) }, 'web', {
      phase: 'Progressing', message: 'v2 failed health: {reason}', hold: 'set', health: false, version: 'v2', specHash: 'a'.repeat(64),
      log: { level: 'warn', text: 'web: {reason} at {at}' },
    }, undefined, reason);
    const st = readStatus(statusPath(paths.instances, 'web')).status!;
    expect(st.message).toBe(`v2 failed health: ${reason}`);
    expect(st.held).toMatchObject({ version: 'v2', reason });
    expect(st.health).toMatchObject({ healthy: false, reason });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^web: exit \$\$ 1: \$& \$' \{at\} at \d{4}-\d\d-\d\dT/);
  });
});
