import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stderr (stdout stays free for command output such as benchmark JSON).
 * Level from SKEWLESS_LOG_LEVEL (default info); `silent` in tests unless asked.
 * Written synchronously: an asynchronous destination flushes what is queued with a synchronous write
 * when the process exits, so a line still on its way could land after a later one, or be lost.
 */
export function createLogger(name: string, level = process.env.SKEWLESS_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { component: name } }, pino.destination({ dest: 2, sync: true }));
}
