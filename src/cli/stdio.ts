// A closed stdout or stderr (`tend update web --version v2 | head -1`: the reader exited) never
// interrupts work: write errors on them are dropped, so the command finishes and records its state.
import type { Writable } from 'node:stream';

/**
 * Makes `process.stdout` and `process.stderr` survive their reader going away (EPIPE, or any other
 * write error): without a listener, Node turns the stream's 'error' event into an uncaught exception
 * and the process dies wherever it is, a unit half rewritten and status.json left `Progressing`.
 * Later writes are dropped quietly; the exit code stays the work's own.
 */
export function keepWorkingWhenOutputCloses(): void {
  for (const stream of [process.stdout, process.stderr] as Writable[]) {
    stream.on('error', () => undefined);
  }
}
