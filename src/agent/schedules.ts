// The agent's clocks: cron jobs (resync, prune), intervals (git pull, log caps) and named one-shot timers (retries).
import { CronJob } from 'cron';

export class Schedules {
  private readonly jobs: CronJob[] = [];
  private readonly intervals: NodeJS.Timeout[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** Runs `tick` on a cron expression (5 fields, or 6 with seconds first). */
  cron(expression: string, tick: () => void): void {
    this.jobs.push(CronJob.from({ cronTime: expression, onTick: tick, start: true }));
  }

  every(ms: number, tick: () => void): void {
    this.intervals.push(setInterval(tick, ms));
  }

  /** (Re)arms the one-shot timer `key`. */
  timer(key: string, ms: number, fire: () => void): void {
    clearTimeout(this.timers.get(key));
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      fire();
    }, ms));
  }

  clearTimer(key: string): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  stopAll(): void {
    for (const j of this.jobs) void j.stop();
    this.jobs.length = 0;
    for (const i of this.intervals) clearInterval(i);
    this.intervals.length = 0;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
