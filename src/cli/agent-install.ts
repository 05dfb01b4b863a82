// `tend agent install|uninstall`: run this root's agent as a systemd unit (Linux) or launchd job (macOS).
import { Option, type Command } from 'commander';
import { agentTarget, installAgent, uninstallAgent, type AgentInstallOptions, type AgentScope, type AgentTarget } from '../agent/install.js';
import { loadConfig } from '../spec/config.js';
import { renderDiagnostics } from '../shared/diagnostic-text.js';
import type { GlobalOptions } from './load.js';
import { errorMessage } from '../shared/errors.js';

interface InstallCliOptions {
  scope?: AgentScope;
  start: boolean;
  print?: boolean;
}

/** The install options for this root (tend.yaml only: a bad desired file must not block the agent); undefined after printing why not. */
function optionsOf(cmd: Command, scope: AgentScope | undefined): AgentInstallOptions | undefined {
  const loaded = loadConfig({ cwd: process.cwd(), dir: cmd.optsWithGlobals<GlobalOptions>().dir, env: process.env });
  if (!loaded.config) {
    process.stderr.write(renderDiagnostics(loaded.diagnostics));
    process.exitCode = 1;
    return undefined;
  }
  return { root: loaded.root, config: loaded.config, ...(scope ? { scope } : {}) };
}

/** How to look at the running agent: its manager's status, and its output. */
function howToSee(t: AgentTarget, domain: string): string[] {
  const unit = t.name.replace(/\.service$/, '');
  const user = t.launch.scope === 'user' ? ' --user' : '';
  const lines = t.launch.kind === 'systemd'
    ? [`  systemctl${user} status ${unit}`]
    : [`  launchctl print ${domain}/${t.name}`];
  if (t.launch.logFile) lines.push(`  tail -f ${t.launch.logFile}`);
  else lines.push(`  journalctl${user} -u ${unit}`);
  return lines;
}

function fail(err: unknown): void {
  process.stderr.write(`error: ${errorMessage(err)}\n`);
  process.exitCode = 1;
}

const scopeOption = () => new Option('--scope <scope>', 'user or system (default: systemd.scope, or launchd.scope on macOS, of tend.yaml)').choices(['user', 'system']);

export function registerAgentInstall(agent: Command): void {
  agent
    .command('install')
    .description('run this root\'s agent as a service: a systemd unit on Linux, a launchd job on macOS (enabled, started, restarted when it ends)')
    .addOption(scopeOption())
    .option('--no-start', 'enable only: it starts at the next boot (or login)')
    .option('--print', 'print the unit (plist) that would be written and change nothing')
    .addHelpText('after', [
      '',
      'Writes tend-agent-<app>.service (user: ~/.config/systemd/user, system: /etc/systemd/system) or',
      '<labelPrefix>.agent.<app>.plist (LaunchAgents / LaunchDaemons) running `tend -C <root> agent`, with',
      'this shell\'s PATH; output goes to instances/.agent.log (or the journal with systemd.output: journal).',
      'A file tend did not write, or one written for another root, is refused. Run it again after changing tend.yaml.',
      '',
      'Exit codes: 0 installed (or printed with --print), 1 error (no usable tend.yaml, a file refused, the service manager failed).',
    ].join('\n'))
    .action(async (opts: InstallCliOptions, cmd: Command) => {
      const o = optionsOf(cmd, opts.scope);
      if (!o) return;
      try {
        const t = agentTarget(o);
        if (opts.print) {
          process.stdout.write(t.text);
          return;
        }
        const r = await installAgent({ ...o, start: opts.start });
        const what = t.launch.kind === 'systemd' ? `systemd ${t.launch.scope} unit` : `launchd ${t.launch.scope === 'user' ? 'agent' : 'daemon'} plist`;
        const domain = t.launch.scope === 'system' ? 'system' : `gui/${process.getuid?.() ?? 0}`;
        process.stdout.write([
          `wrote ${r.file} (${what})`,
          r.started ? `${r.name}: enabled and started; status server on ${o.config.agent.listen}` : `${r.name}: enabled, not started (--no-start)`,
          'see it:',
          ...howToSee(t, domain),
          '',
        ].join('\n'));
        for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
      } catch (err) {
        fail(err);
      }
    });

  agent
    .command('uninstall')
    .description('stop and disable the agent\'s service and remove its unit (plist); nothing installed is fine')
    .addOption(scopeOption())
    .addHelpText('after', '\nExit codes: 0 removed (or nothing was installed), 1 error (no usable tend.yaml, a file refused, the service manager failed).')
    .action(async (opts: { scope?: AgentScope }, cmd: Command) => {
      const o = optionsOf(cmd, opts.scope);
      if (!o) return;
      try {
        const r = await uninstallAgent(o);
        process.stdout.write(r.removed ? `${r.name}: stopped, disabled, removed ${r.file}\n` : `${r.name}: nothing to remove (${r.file} does not exist)\n`);
      } catch (err) {
        fail(err);
      }
    });
}
