#!/usr/bin/env node
// tend's TypeScript API end to end, without the CLI: create an instance (its desired file),
// preview the plan, apply it, read its status, delete it.
//
//   node examples/api/lifecycle.mjs -C ROOT [--name api-demo] [--version v1.1.0] [--runtime tmux]
//
// ROOT is a deployment root (tend.yaml; `tend init` makes one). Run `npm run build` first: this file
// imports the built package (in another project: `import { ... } from 'tend'`).
import { parseArgs } from 'node:util';
import {
  apply, createInstance, deleteInstance, loadProject, observeAll, OpsError, plan, renderPlanText, status,
} from '../../dist/index.js';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', short: 'C', default: '.' },
    name: { type: 'string', default: 'api-demo' },
    version: { type: 'string' },
    runtime: { type: 'string' },
  },
});
const { dir, name } = args;

// 1. Create: writes desired/<name>.yaml (and instances/<name>/.env for secrets). `apply: false`
//    only writes the files; without it createInstance also applies and waits for health.
const created = await createInstance(loadProject({ dir }), {
  name,
  apply: false,
  env: { GREETING: 'hello from the API' },
  ...(args.version ? { version: args.version } : {}),
  ...(args.runtime ? { runtime: args.runtime } : {}),
});
console.log(`created ${created.file}: ${created.version} on port ${created.port} (${created.runtime})`);

let ok = false;
try {
  // 2. Preview: observe this host, plan with the pure planner, render it as `tend reconcile --dry-run` does.
  const project = loadProject({ dir });
  const observation = await observeAll(project.desired, project.paths);
  const preview = plan(project.desired, observation.observed, observation.releases, observation.instances);
  process.stdout.write(renderPlanText(preview));

  // 3. Apply: the same reconcile as `tend reconcile`, limited to this instance.
  const result = await apply(project, {
    only: new Set([name]),
    log: (level, message) => console.log(`  ${level}: ${message}`),
  });
  console.log(`apply: exit code ${result.exitCode}${result.held.length ? `, held: ${result.held.join(', ')}` : ''}`);

  // 4. Status: one row per instance, as `tend status` shows them.
  const row = (await status(project.desired, project.paths)).find((r) => r.name === name);
  console.log(`status: ${name} ${row?.phase} ${row?.observedVersion ?? '-'} ${created.url}`);
  ok = result.exitCode === 0 && row?.phase === 'Ready';
} finally {
  // 5. Delete: what tend owns of it on the runtime, then instances/<name>/ and the desired file.
  try {
    const deleted = await deleteInstance(loadProject({ dir }), { name });
    console.log(`deleted: ${[...deleted.deleted, ...deleted.files].join(', ')}`);
  } catch (err) {
    ok = false;
    console.error(`delete failed: ${err instanceof OpsError ? `${err.kind}: ` : ''}${err instanceof Error ? err.message : err}`);
  }
}
process.exitCode = ok ? 0 : 1;
