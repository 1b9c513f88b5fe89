/**
 * Weighted round robin by earliest deadline first (Envoy's EDF scheduler): each endpoint is due
 * every 1/weight; the earliest deadline wins and is rescheduled. Smooth (no bursts to one
 * endpoint) and O(log n) per pick. Start offsets are random so clients do not move in lockstep.
 */
import type { Strategy, StrategyInput } from './strategy.ts';

export class WeightedRoundRobinStrategy implements Strategy {
  // A binary min-heap of endpoint indices ordered by deadline (ties by index, for determinism).
  private readonly heap: Int32Array;
  private readonly deadline: Float64Array;
  private readonly period: Float64Array;

  constructor(input: StrategyInput) {
    const n = input.stats.length;
    this.heap = new Int32Array(n);
    this.deadline = new Float64Array(n);
    this.period = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const period = 1 / Math.max(1e-9, input.weights[i] as number);
      this.period[i] = period;
      this.deadline[i] = input.random() * period;
      this.heap[i] = i;
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  pick(): number {
    const top = this.heap[0] as number;
    this.deadline[top] = (this.deadline[top] as number) + (this.period[top] as number);
    this.siftDown(0);
    return top;
  }

  private less(a: number, b: number): boolean {
    const da = this.deadline[a] as number;
    const db = this.deadline[b] as number;
    return da < db || (da === db && a < b);
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const n = heap.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const smallest = r < n && this.less(heap[r] as number, heap[l] as number) ? r : l;
      if (!this.less(heap[smallest] as number, heap[i] as number)) return;
      const tmp = heap[i] as number;
      heap[i] = heap[smallest] as number;
      heap[smallest] = tmp;
      i = smallest;
    }
  }
}
