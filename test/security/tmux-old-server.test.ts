// A tmux server started by an older tend keeps `-e KEY=VALUE` in its command line: observation warns
// and says how to clear it (issue 13, hole 4); tend's own servers never get such a warning. Real tmux.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { observeTmux } from '../../src/drivers/tmux/observe.js';
import { config } from '../helpers/planner-fixtures.js';
import { backendGate } from '../helpers/backends.js';

const gate = await backendGate('tmux');

describe.skipIf(gate.skip)('tmux server argv from an older tend (real tmux)', () => {
  const socket = `tend-oldsrv-${process.pid}-${randomBytes(3).toString('hex')}`;
  const tmux = (args: string[]) => execa('tmux', ['-L', socket, '-f', '/dev/null', ...args], { reject: false, stdin: 'ignore' });
  afterEach(async () => {
    const r = await tmux(['kill-server']);
    if (r.exitCode !== 0 && !/no server running|error connecting/.test(r.stderr)) throw new Error(`kill-server: ${r.stderr}`);
    // The server leaves its socket file behind; the run's leak check would find it.
    rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket), { force: true });
  });

  it('warns when the server was started with -e values, names the socket and the fix; not otherwise', async () => {
    gate.check();
    const cfg = config({ app: 'oldapp', tmux: { socket } });
    const paths = { root: '/nonexistent', desired: '/x', releases: '/x', instances: '/x' };
    // As an older tend did: the first client's new-session carried the env.
    let r = await tmux(['new-session', '-d', '-s', 'oldapp-web', '-e', 'API_TOKEN=old-secret-value', '--', 'sleep', '600', ';',
      'set-option', '-t', '=oldapp-web:', '@tend-app', 'oldapp', ';', 'set-option', '-t', '=oldapp-web:', '@tend-instance', 'web']);
    expect(r.exitCode, r.stderr).toBe(0);
    const obs = await observeTmux({ config: cfg, paths });
    expect(obs.status).toBe('ok');
    const warnings = obs.status === 'ok' ? obs.warnings ?? [] : [];
    expect(warnings.join('\n')).toContain(`tend's tmux server (socket ${socket}`);
    expect(warnings.join('\n')).toContain(`tmux -L ${socket} kill-server`);
    expect(warnings.join('\n')).not.toContain('old-secret-value');
    r = await tmux(['kill-server']);
    // A server as tend starts it now: no env on its command line, no warning.
    r = await tmux(['new-session', '-d', '-s', 'oldapp-web', '--', 'sleep', '600', ';',
      'set-option', '-t', '=oldapp-web:', '@tend-app', 'oldapp', ';', 'set-option', '-t', '=oldapp-web:', '@tend-instance', 'web']);
    expect(r.exitCode, r.stderr).toBe(0);
    const clean = await observeTmux({ config: cfg, paths });
    expect(clean.status === 'ok' ? clean.warnings ?? [] : ['not ok']).toEqual([]);
  });
});
