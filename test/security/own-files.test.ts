// tend's own files in an instance directory: a symlink, FIFO or folder in their place is refused by name
// (reads too), never followed (issue 13); on a real file system, with real FIFOs (mkfifo).
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { readEnvFile } from '../../src/drivers/launch.js';
import { requestRestart } from '../../src/ops/lifecycle.js';
import { editEnvFile } from '../../src/ops/env-file.js';
import { readInstanceState } from '../../src/observe/instances.js';
import { appendHistory, readHistoryFile } from '../../src/state/history.js';
import { readStatus, updateStatus } from '../../src/state/status.js';
import { prepareInstanceDir } from '../../src/state/layout.js';
import { useScratch } from '../helpers/scratch.js';

const scratch = useScratch();
const entry = { version: 'v1.0.0', updatedAt: '2026-01-01T00:00:00Z', updatedBy: 'test', reason: 'create' as const, outcome: 'healthy' as const };

type Kind = 'symlink' | 'fifo' | 'directory';
const KINDS: Kind[] = ['symlink', 'fifo', 'directory'];
const WORDS: Record<Kind, RegExp> = { symlink: /a symbolic link/, fifo: /a FIFO/, directory: /a directory/ };

/** An instance directory whose `file` is a link to a victim file, a FIFO or a folder. */
async function planted(kind: Kind, file: string) {
  const base = scratch(`own-${kind}`);
  const dir = join(base, 'instances', 'web');
  mkdirSync(dir, { recursive: true });
  const victim = join(base, 'victim.txt');
  writeFileSync(victim, 'API_TOKEN=someone-elses\n');
  const path = join(dir, file);
  if (kind === 'symlink') symlinkSync(victim, path);
  else if (kind === 'fifo') await execa('mkfifo', [path]);
  else mkdirSync(path);
  return { base, dir, path, victim, instances: join(base, 'instances') };
}

describe('tend refuses links, FIFOs and folders among its own files (real files, mkfifo)', () => {
  for (const kind of KINDS) {
    it(`${kind}: .env is never read or written through it`, async () => {
      const p = await planted(kind, '.env');
      expect(() => readEnvFile(p.path)).toThrow(WORDS[kind]);
      expect(() => editEnvFile(p.path, { API_TOKEN: 'mine' })).toThrow(WORDS[kind]);
      expect(readFileSync(p.victim, 'utf8')).toBe('API_TOKEN=someone-elses\n');
      const state = readInstanceState(p.base, p.instances, 'web');
      expect(state.env.keys).toEqual([]);
      expect(state.unsafe?.join('\n')).toMatch(new RegExp(`refusing ${p.path.replaceAll('/', '\\/')}: it is ${WORDS[kind].source}`));
    });

    it(`${kind}: .version-history is never appended through it`, async () => {
      const p = await planted(kind, '.version-history');
      expect(() => appendHistory(p.path, entry)).toThrow(WORDS[kind]);
      expect(readFileSync(p.victim, 'utf8')).toBe('API_TOKEN=someone-elses\n');
      expect(readHistoryFile(p.path).problems.join()).toMatch(WORDS[kind]);
    });

    it(`${kind}: status.json and requests.json are never read or replaced through it`, async () => {
      for (const file of ['status.json', 'requests.json']) {
        const p = await planted(kind, file);
        if (file === 'status.json') {
          expect(readStatus(p.path).reason).toMatch(WORDS[kind]);
          expect(() => updateStatus(p.path, { phase: 'Ready' })).toThrow(WORDS[kind]);
        } else {
          expect(() => requestRestart({ instances: p.instances }, 'web')).toThrow(WORDS[kind]);
        }
        expect(readFileSync(p.victim, 'utf8')).toBe('API_TOKEN=someone-elses\n');
      }
    });
  }

  it('the instance directory or logs/ as a link is refused, nothing is created through it', () => {
    const base = scratch('own-dirlink');
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(elsewhere);
    mkdirSync(join(base, 'instances'));
    symlinkSync(elsewhere, join(base, 'instances', 'web'));
    expect(() => prepareInstanceDir(join(base, 'instances'), 'web')).toThrow(/it is a symbolic link, not a directory/);
    expect(() => appendHistory(join(base, 'instances', 'web', '.version-history'), entry)).toThrow(/symbolic link/);
    expect(existsSync(join(elsewhere, '.version-history'))).toBe(false);
    const other = join(base, 'instances2', 'api');
    mkdirSync(other, { recursive: true });
    symlinkSync(elsewhere, join(other, 'logs'));
    expect(() => prepareInstanceDir(join(base, 'instances2'), 'api')).toThrow(/logs: it is a symbolic link/);
    expect(existsSync(join(elsewhere, 'data'))).toBe(false);
  });
});
