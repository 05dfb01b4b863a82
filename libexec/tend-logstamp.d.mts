// Types of libexec/tend-logstamp.mjs (tend's log stamper), for tend's tests.
export const IDLE_MS: number;
export const MAX_LINE: number;

export class LineStamper {
  constructor(opts?: { terminal?: boolean; maxLine?: number });
  /** The open line's text so far. */
  line: string;
  /** Feeds text that arrived at `now` (epoch ms); returns the finished lines, stamped, each ending in a newline. */
  push(text: string, now: number): string;
  /** The open line (if any), stamped; the line is then empty. */
  flush(): string;
}
