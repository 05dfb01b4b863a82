// The logging callback every layer takes: the CLI prints it, the agent sends it to pino.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** `debug` lines (each action as it starts) go only to a Log that asks for them with `debug: true`. */
export type Log = ((level: LogLevel, message: string, fields?: Record<string, unknown>) => void) & { debug?: boolean };
