/** Plain round robin from a random start (so many clients do not all hit endpoint 0 first). */
import type { Strategy, StrategyInput } from './strategy.ts';

export class RoundRobinStrategy implements Strategy {
  private next: number;
  private readonly size: number;

  constructor(input: StrategyInput) {
    this.size = input.stats.length;
    this.next = Math.floor(input.random() * this.size);
  }

  pick(): number {
    const chosen = this.next;
    this.next = chosen + 1 === this.size ? 0 : chosen + 1;
    return chosen;
  }
}
