/**
 * Capped exponential backoff with full jitter, as gRPC and client-go use it.
 * Time and randomness are injected so tests are deterministic.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  multiplier?: number;
  /** Fraction of the delay that is randomized, 0..1 (default 0.2, like gRPC). */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly multiplier: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private readonly options: BackoffOptions;

  constructor(options: BackoffOptions) {
    this.options = options;
    this.multiplier = options.multiplier ?? 1.6;
    this.jitter = options.jitter ?? 0.2;
    this.random = options.random ?? Math.random;
  }

  /** Delay before the next attempt, in milliseconds; grows until `maxMs`. */
  nextDelayMs(): number {
    const base = Math.min(this.options.maxMs, this.options.initialMs * this.multiplier ** this.attempt);
    this.attempt += 1;
    const spread = base * this.jitter;
    return Math.max(0, base - spread + this.random() * 2 * spread);
  }

  reset(): void {
    this.attempt = 0;
  }
}
