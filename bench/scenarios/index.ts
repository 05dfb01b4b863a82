// The scenario registry: `npm run bench -- <id> ...` picks from it; RESULTS.md lists them in this order.
import type { BenchContext } from '../lib/context.js';
import type { Section } from '../lib/report.js';
import { AGENT_SCENARIOS, pendingSection } from './agent.js';
import { runCompose } from './compose.js';
import { runDryRun } from './dry-run.js';
import { runPlanner } from './planner.js';

export interface Scenario {
  id: string;
  title: string;
  /** Measures and returns its section; absent: a hook for later, reported as "not yet measured". */
  run?: (ctx: BenchContext) => Promise<Section>;
  pending?: () => Section;
}

export const SCENARIOS: Scenario[] = [
  { id: 'planner', title: 'planner alone, 100 / 1,000 / 10,000 synthetic instances', run: runPlanner },
  { id: 'dry-run', title: '`tend reconcile --dry-run` over converged Docker, tmux and systemd instances', run: runDryRun },
  { id: 'compose', title: 'tend against docker-compose: cold, no-op and one-change converge', run: runCompose },
  ...AGENT_SCENARIOS.map((p) => ({ id: p.id, title: `${p.title} (hook: not yet measured)`, pending: () => pendingSection(p) })),
];
