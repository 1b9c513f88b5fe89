/**
 * Slow start (Envoy's slow_start_config): an endpoint that joins a running balancer gets its
 * weight scaled by max(minWeightPercent/100, (age/window)^(1/aggression)) until the window ends.
 */
export interface SlowStartConfig {
  readonly windowMs: number;
  /** Curve shape; 1 is linear, larger ramps faster early. */
  readonly aggression: number;
  readonly minWeightPercent: number;
}

/** Weight multiplier in (0, 1] for an endpoint that joined `ageMs` ago. */
export function slowStartFactor(ageMs: number, config: SlowStartConfig): number {
  if (config.windowMs <= 0 || ageMs >= config.windowMs) return 1;
  const timeFactor = Math.max(ageMs, 1) / config.windowMs;
  return Math.max(config.minWeightPercent / 100, timeFactor ** (1 / config.aggression));
}
