// Hooks for the agent scenarios of issue 8. They need the running agent (src/agent/, being written); until
// someone fills in `run`, RESULTS.md says "not yet measured" for them (never a made-up number).
import { section, type Section } from '../lib/report.js';

export interface PendingScenario {
  id: string;
  title: string;
  figures: { figure: string; target: string }[];
  how: string;
}

export const AGENT_SCENARIOS: PendingScenario[] = [
  {
    id: 'agent-latency',
    title: 'Agent: save-to-first-action and save-to-healthy latency',
    figures: [
      { figure: 'desired file saved → first action starts (median of 20 saves)', target: 'under 150 ms median' },
      { figure: 'desired file saved → new version healthy (median of 20 saves)', target: '—' },
    ],
    how: 'Fixture app, agent running (`tend agent`), a version bump written to desired/<name>.yaml 20 times; times from the agent\'s log or metrics.',
  },
  {
    id: 'agent-rest',
    title: 'Agent at rest with 60 instances: CPU and RSS',
    figures: [
      { figure: 'CPU over 60 s (share of one core)', target: 'under 1% of one core' },
      { figure: 'RSS (max over 60 s)', target: 'under 120 MB' },
    ],
    how: '60 converged instances (20 Docker, 20 tmux, 20 systemd user units), agent idle; sample /proc/<pid>/stat and status for 60 s.',
  },
  {
    id: 'agent-resync',
    title: 'Agent: no-op resync inside the running agent (15 and 60 instances)',
    figures: [
      { figure: 'no-op resync, 15 instances (resync start → end)', target: '—' },
      { figure: 'no-op resync, 60 instances (resync start → end)', target: 'under 60 ms' },
    ],
    how: 'Converged instances; trigger resyncs and read their duration from the agent\'s metrics or logs.',
  },
];

export function pendingSection(p: PendingScenario): Section {
  const s = section(p.id, p.title, 'not-yet-measured');
  s.notes.push(`Hook only: this needs the agent, which is not in place yet. Method when it lands: ${p.how}`);
  s.tables.push({ columns: ['figure', 'target', 'measured'], rows: p.figures.map((f) => [f.figure, f.target, 'not yet measured']) });
  return s;
}
