/** A real pino logger that records every JSON line, so tests can assert what was logged. */
import { type Logger, pino } from 'pino';

export interface CapturedLog {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface CaptureLogger {
  readonly logger: Logger;
  readonly lines: CapturedLog[];
  /** Lines whose message matches `pattern`. */
  matching(pattern: RegExp): CapturedLog[];
}

export function captureLogger(level = 'debug'): CaptureLogger {
  const lines: CapturedLog[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines, matching: (pattern) => lines.filter((l) => pattern.test(l.msg)) };
}
