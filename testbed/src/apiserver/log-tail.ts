/** The end of a log file, for error messages: a failed start should show why without opening files. */
import { readFileSync } from 'node:fs';

export function logTail(path: string, lines = 30): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    return `--- last ${lines} lines of ${path} ---\n${text}`;
  } catch (error) {
    return `--- ${path}: ${(error as Error).message} ---`;
  }
}
