/**
 * Polls a readiness probe until it passes, the process dies, or time runs out, logging progress so a
 * slow start on a busy CI machine is visible instead of silent.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@skewless/shared';
import type { ProcessGroup } from './process-group.ts';

export interface WaitReadyOptions {
  readonly what: string;
  /** Resolves true when ready, or a short description of why not yet. */
  readonly probe: () => Promise<true | string>;
  readonly process: ProcessGroup;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly intervalMs?: number;
  readonly progressEveryMs?: number;
}

export async function waitReady(options: WaitReadyOptions): Promise<number> {
  const started = performance.now();
  let lastProgress = started;
  let state = 'not probed yet';
  for (;;) {
    const elapsedMs = performance.now() - started;
    if (options.process.hasExited()) {
      const status = await options.process.exited;
      throw new Error(`${options.what} exited before it was ready (${JSON.stringify(status)}); last probe: ${state}`);
    }
    if (elapsedMs > options.timeoutMs) {
      throw new Error(`${options.what} not ready after ${Math.round(elapsedMs)} ms; last probe: ${state}`);
    }
    const result = await options.probe().catch((error: Error) => error.message);
    if (result === true) return Math.round(performance.now() - started);
    state = result;
    if (performance.now() - lastProgress >= (options.progressEveryMs ?? 2000)) {
      lastProgress = performance.now();
      options.logger.info({ elapsedMs: Math.round(elapsedMs), state }, `waiting for ${options.what}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
}
