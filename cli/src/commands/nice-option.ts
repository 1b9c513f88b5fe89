import { applyNice, type CpuPriority, type Logger } from '@skewless/shared';

/**
 * `--nice` of `skewless load` and `skewless backend`: applied before any channel or server exists
 * (threads started later inherit it) and said in the log; a refusal is a warning, the command goes on
 * at the niceness it inherited.
 */
export function applyNiceOption(nice: number | undefined, logger: Logger): CpuPriority | undefined {
  if (nice === undefined) return undefined;
  const cpuPriority = applyNice(nice);
  if (cpuPriority.applied) logger.info({ cpuPriority }, `running at niceness ${cpuPriority.nice}`);
  else logger.warn({ cpuPriority }, `${cpuPriority.error}; running at the inherited niceness`);
  return cpuPriority;
}
