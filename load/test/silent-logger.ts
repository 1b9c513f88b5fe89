import { createLogger } from '@skewless/shared';

/** Logs stay off in tests unless SKEWLESS_LOG_LEVEL asks for them. */
export const silent = createLogger('load-test', process.env.SKEWLESS_LOG_LEVEL ?? 'silent');
