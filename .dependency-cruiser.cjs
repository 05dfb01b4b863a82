/* global module */
// The layers of src/ (lowest first). A folder may import only folders below it (or itself): this keeps the
// folder graph layered with no cycle. `npm run lint` runs it (depcruise); docs/development.md draws it.
const LAYERS = [
  'model',     // the types every layer shares
  'shared',    // pure helpers: hashing, durations, versions, diagnostics, .env parsing, command splitting
  'fs',        // safe file I/O: no-follow opens, atomic writes, file locks
  'spec',      // tend.yaml and desired files: load, validate, names
  'state',     // what tend keeps per instance: layout, status.json, history, adoption records, instance locks
  'release',   // releases on disk: build, manifest, validate, tags, prune
  'drivers',   // one folder per runtime: observe, compare, apply
  'observe',   // the whole observation of a host, through the drivers
  'health',    // health probes
  'planner',   // pure: desired + observed -> plan
  'executor',  // runs a plan's actions through the drivers
  'status',    // status rows from observation and state
  'views',     // text and JSON renderings
  'discover',  // finds and adopts containers tend did not create
  'ops',       // one function per operator command (the API)
  'agent',     // the long-running agent
  'cli',       // argument parsing, printing, exit codes
];

const folder = (name) => `^src/${name}/`;
const layerRules = LAYERS.map((name, i) => ({
  name: `layer-${name}`,
  comment: `${name}/ may import only the layers below it: ${LAYERS.slice(0, i).join(', ') || 'none'}`,
  severity: 'error',
  from: { path: folder(name) },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      comment: 'No module cycle (a cycle inside a folder hides an ordering problem too).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'planner-is-pure',
      comment: 'The planner reads nothing and runs nothing: observation belongs in observe/, actions in executor/.',
      severity: 'error',
      from: { path: folder('planner') },
      to: {
        path: [
          '^(node:)?(fs|fs/promises|child_process|net|http|https|dgram|worker_threads)$',
          '^node_modules/(execa|dockerode|simple-git|chokidar|pino)/',
          '^src/(fs|state|release|observe|health)/',
          '^src/drivers/(?!types\\.ts$|compare\\.ts$|compare-rules\\.ts$|[^/]+/compare\\.ts$)',
        ],
      },
    },
    {
      name: 'drivers-are-independent',
      comment: 'A runtime driver does not import another runtime driver (shared parts live in drivers/ itself).',
      severity: 'error',
      from: { path: '^src/drivers/([^/]+)/' },
      to: { path: '^src/drivers/[^/]+/', pathNot: '^src/drivers/$1/' },
    },
    {
      name: 'prom-client-only-lazily',
      comment: 'prom-client is loaded by AgentMetrics.create() alone, with a dynamic import (types aside), so the CLI never loads it.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^node_modules/prom-client/', dynamic: false, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'prom-client-in-metrics',
      comment: 'Only src/agent/metrics.ts imports prom-client.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/agent/metrics\\.ts$' },
      to: { path: '^node_modules/prom-client/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
};
