/** Maps a strategy name from config to its implementation. */
import { inFlightLoad } from './load-in-flight.ts';
import { peakEwmaLoad } from './load-peak-ewma.ts';
import { serverReportedLoad } from './load-server-reported.ts';
import type { StrategyFactory, StrategyName, StrategyOptions } from './strategy.ts';
import { P2cStrategy } from './strategy-p2c.ts';
import { RandomStrategy } from './strategy-random.ts';
import { RoundRobinStrategy } from './strategy-round-robin.ts';
import { WeightedRoundRobinStrategy } from './strategy-weighted-round-robin.ts';

export function strategyFactory(name: StrategyName, options: StrategyOptions): StrategyFactory {
  switch (name) {
    case 'p2c':
      return (input) => new P2cStrategy(input, inFlightLoad, options.p2cSampling);
    case 'p2c-peak-ewma':
      return (input) => new P2cStrategy(input, peakEwmaLoad, options.p2cSampling);
    case 'p2c-server-load':
      return (input) => new P2cStrategy(input, serverReportedLoad, options.p2cSampling);
    case 'round-robin':
      return (input) => new RoundRobinStrategy(input);
    case 'random':
      return (input) => new RandomStrategy(input);
    case 'weighted-round-robin':
      return (input) => new WeightedRoundRobinStrategy(input);
  }
}
