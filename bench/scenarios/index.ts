// The scenario registry: `npm run bench -- <id> ...` picks from it; RESULTS.md lists them in this order.
import type { BenchContext } from '../lib/context.js';
import type { Section } from '../lib/report.js';
import { runAgentLatency, runAgentRest, runAgentResync } from './agent.js';
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
  { id: 'agent-latency', title: 'agent: desired file saved → first action starts, → new version healthy (tmux)', run: runAgentLatency },
  { id: 'agent-rest', title: 'agent at rest over converged Docker, tmux and systemd instances: CPU and RSS', run: runAgentRest },
  { id: 'agent-resync', title: 'agent: a no-op resync inside the running agent, 15 and 60 instances', run: runAgentResync },
];
