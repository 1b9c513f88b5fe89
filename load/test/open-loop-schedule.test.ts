/** The schedule is pure arithmetic over clock readings: tested with made-up times, no timers. */
import { describe, expect, it } from 'vitest';
import { OpenLoopSchedule, sameZoneShare, spread } from '../src/index.ts';

describe('OpenLoopSchedule', () => {
  it('makes requests due at fixed intervals from the start, whatever the tick times', () => {
    const schedule = new OpenLoopSchedule({ startMs: 1000, rate: 2000, warmupS: 0, durationS: 1 });
    expect(schedule.total).toBe(2000);
    expect(schedule.takeDue(999)).toEqual([]);
    expect(schedule.takeDue(1000).map((r) => r.index)).toEqual([0]);
    // A late tick (3 ms) takes everything that came due meanwhile, each with its own scheduled time.
    const late = schedule.takeDue(1003);
    expect(late.map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(late.map((r) => r.scheduledMs)).toEqual([1000.5, 1001, 1001.5, 1002, 1002.5, 1003]);
    expect(schedule.nextDueMs()).toBe(1003.5);
  });

  it('ends after rate × duration requests, each in the second it was scheduled in', () => {
    const schedule = new OpenLoopSchedule({ startMs: 0, rate: 3, warmupS: 0, durationS: 2 });
    const all = schedule.takeDue(1e9);
    expect(all.map((r) => r.second)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(schedule.done).toBe(true);
    expect(schedule.nextDueMs()).toBeUndefined();
    expect(schedule.takeDue(2e9)).toEqual([]);
  });

  it('does not count warm-up requests and starts the measured seconds after them', () => {
    const schedule = new OpenLoopSchedule({ startMs: 0, rate: 10, warmupS: 0.5, durationS: 1 });
    expect(schedule.measureStartMs).toBe(500);
    const all = schedule.takeDue(1e9);
    expect(all).toHaveLength(15);
    expect(all.filter((r) => !r.measured).map((r) => r.second)).toEqual([-1, -1, -1, -1, -1]);
    expect(all.filter((r) => r.measured).every((r) => r.second === 0)).toBe(true);
  });

  it('keeps requests in their second despite floating-point times', () => {
    const schedule = new OpenLoopSchedule({ startMs: 0.1, rate: 7, warmupS: 0, durationS: 3 });
    const perSecond = [0, 0, 0];
    for (const r of schedule.takeDue(1e9)) perSecond[r.second] = (perSecond[r.second] ?? 0) + 1;
    expect(perSecond).toEqual([7, 7, 7]);
  });

  it('has nothing more due once stopped', () => {
    const schedule = new OpenLoopSchedule({ startMs: 0, rate: 100, warmupS: 0, durationS: 10 });
    schedule.takeDue(50);
    schedule.stop();
    expect(schedule.done).toBe(true);
    expect(schedule.takeDue(1e9)).toEqual([]);
    expect(schedule.taken).toBe(6);
  });
});

describe('spread and zone share', () => {
  it('is even at 1 and 0', () => {
    expect(
      spread(
        new Map([
          ['a', 10],
          ['b', 10],
        ]),
      ),
    ).toEqual({ maxOverMean: 1, cv: 0 });
  });

  it('counts expected pods that answered nothing as zeros', () => {
    const counts = new Map([['a', 30]]);
    expect(spread(counts).maxOverMean).toBe(1);
    expect(spread(counts, ['a', 'b', 'c']).maxOverMean).toBe(3);
  });

  it('has no spread without answers', () => {
    expect(spread(new Map(), ['a'])).toEqual({ maxOverMean: null, cv: null });
  });

  it('gives the share answered in my zone, or null when my zone is unknown', () => {
    expect(sameZoneShare({ a: 1, b: 3 }, 'a')).toBe(0.25);
    expect(sameZoneShare({ a: 1, b: 3 }, 'c')).toBe(0);
    expect(sameZoneShare({ a: 1 }, undefined)).toBeNull();
    expect(sameZoneShare({}, 'a')).toBeNull();
  });
});
