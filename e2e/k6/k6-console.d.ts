// k6 has `console` (log, info, warn, error, debug, to its logger), but @types/k6 leaves it to lib.dom,
// which would also bring in browser globals k6 does not have.
declare const console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
};
