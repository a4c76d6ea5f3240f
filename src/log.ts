import { pino, type Logger } from 'pino';

/** Structured logs: one JSON line per event, with a message and key-value pairs. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'rigshift'): Logger {
  return pino({ name, level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };
