/**
 * Samples indices in proportion to weights. Built once per picker; when all weights are equal
 * (the common case) sampling is a single multiply, otherwise a binary search over prefix sums.
 */
import type { Random } from './random.ts';

export class WeightedSampler {
  readonly size: number;
  private readonly uniform: boolean;
  private readonly prefix: Float64Array;
  private readonly total: number;

  constructor(weights: ArrayLike<number>) {
    this.size = weights.length;
    this.prefix = new Float64Array(weights.length);
    let total = 0;
    let uniform = true;
    for (let i = 0; i < weights.length; i++) {
      const w = Math.max(0, weights[i] ?? 0);
      if (w !== weights[0]) uniform = false;
      total += w;
      this.prefix[i] = total;
    }
    // All-zero weights degrade to uniform rather than to "never pick".
    this.uniform = uniform || total <= 0;
    this.total = total;
  }

  /** An index in [0, size); `size` must be ≥ 1. */
  sample(random: Random): number {
    const r = random();
    if (this.uniform) return Math.floor(r * this.size);
    const target = r * this.total;
    let lo = 0;
    let hi = this.size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.prefix[mid] as number) > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** An index other than `excluded`; `size` must be ≥ 2. */
  sampleOther(excluded: number, random: Random): number {
    if (this.uniform) {
      const j = Math.floor(random() * (this.size - 1));
      return j >= excluded ? j + 1 : j;
    }
    // Rejection sampling keeps the weighted distribution; bounded so a dominant weight cannot spin.
    for (let attempt = 0; attempt < 8; attempt++) {
      const j = this.sample(random);
      if (j !== excluded) return j;
    }
    const j = Math.floor(random() * (this.size - 1));
    return j >= excluded ? j + 1 : j;
  }
}
