// The reasons nothing can be planned for an instance, checked before anything else.
import type { Diagnostic } from '../model/types.js';
import { RUNTIME_NOUN, targetName } from '../spec/names.js';
import { envProblemDiagnostics } from '../shared/diagnostics.js';
import type { InstanceContext, Valid } from './context.js';

export /** Why nothing can be planned for the instance (a runtime this host lacks or cannot observe, a thing tend does not own, unsafe files, .env problems, missing secrets). */
function blockedBy(entry: Valid, ctx: InstanceContext): { diagnostic: Diagnostic; reason: string } | undefined {
  const { spec, runtime, name } = entry;
  const at = (key: string) => ({ file: entry.file, ...(entry.positions[key] ?? { line: 1, col: 1 }), instance: name });
  const error = (message: string, where = at('runtime')) => ({ diagnostic: { severity: 'error' as const, ...where, message }, reason: message });
  if (runtime === 'launchd' && ctx.observed.host.platform !== 'darwin') return error(`runtime launchd needs macOS; this host is ${ctx.observed.host.platform}`);
  const obs = ctx.observed.runtimes[runtime];
  if (!obs || obs.status !== 'ok') {
    const why = obs?.status === 'unavailable' ? obs.reason : 'not observed';
    const message = `cannot observe ${runtime} (${why}); nothing planned for ${name}`;
    return { diagnostic: { severity: 'warning', ...at('runtime'), message }, reason: message };
  }
  const target = targetName(runtime, ctx.config, name);
  if (obs.items.some((i) => !i.owned && i.id === target)) {
    return error(`${RUNTIME_NOUN[runtime]} ${target} exists and is not owned by tend; it is never overwritten (remove or rename it)`);
  }
  const top = { file: entry.file, line: 1, col: 1, instance: name };
  if (ctx.state?.unsafe?.length) return error(ctx.state.unsafe.join('; '), top);
  const envProblems = ctx.state?.env.problems ?? [];
  if (envProblems.length > 0) {
    // A .env systemd would read differently (a key lost, another value): apply nothing, what runs keeps running.
    const envFile = ctx.state!.env.file;
    const [first, ...rest] = envProblemDiagnostics(envFile, name, envProblems);
    ctx.diagnostics.push(...rest);
    const lines = envProblems.map((p) => p.line).join(', ');
    return { diagnostic: first!, reason: `${envFile} line${envProblems.length > 1 ? 's' : ''} ${lines}: read differently by systemd; nothing is applied until fixed` };
  }
  const required = [...new Set([...ctx.config.source.secrets, ...spec.secrets])].sort();
  const missing = required.filter((k) => !(ctx.state?.env.keys ?? []).includes(k));
  if (missing.length > 0) {
    const envFile = ctx.state?.env.file ?? `${name}/.env`;
    return error(`secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing from ${envFile}`, top);
  }
  return undefined;
}
