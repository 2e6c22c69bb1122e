// The linger's pieces without I/O: when a batch makes waiting worth it, and the tick latch.
import { describe, expect, it } from 'vitest';
import { lingering, TickLatch, worthLingering } from '../../layers/pgq/lambda/linger.ts';

describe('worthLingering', () => {
  it.each([
    // events, span between the batch's ticks (ms), linger (ms), linger?
    [100, 50, 50, true], // 2,000 events/s: 100 events expected within 50 ms
    [1, 50, 50, false], // 20 events/s: 1 expected
    [2, 50, 50, true], // 40 events/s: 2 expected
    [1, 20, 20, false], // 50 events/s at a 20 ms linger: 1 expected
    [0, 5, 50, false], // an idle tick
    [5, 0, 50, true], // ticks in the same millisecond
  ])('%i events over %i ms, linger %i ms → %s', (events, span, linger, want) => {
    expect(worthLingering(events, span, linger)).toBe(want);
  });
});

describe('TickLatch', () => {
  it('remembers a tick notified before the wait, forgets it on clear, and times out without one', async () => {
    const l = new TickLatch();
    l.notify();
    expect(await l.wait(1000)).toBe(true);
    l.notify();
    l.clear();
    const t0 = performance.now();
    expect(await l.wait(30)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    setTimeout(l.notify, 10);
    expect(await l.wait(5000)).toBe(true);
    expect(l.wakes).toBe(2);
  });
});

describe('lingering', () => {
  it('listens once before its first wait and looks again at once; stops after a wait without a tick', async () => {
    const latch = new TickLatch();
    const looks: string[] = [];
    const results = [1, null, null, 2, null, null];
    let listened = 0;
    const step = lingering(
      async () => {
        const r = results.shift() ?? null;
        looks.push(String(r));
        // The second empty look after LISTEN waits; a tick comes meanwhile.
        if (looks.length === 3) setTimeout(latch.notify, 5);
        return r;
      },
      latch,
      {
        lingerMs: 50,
        budgetMs: () => 10_000,
        worth: () => true,
        listen: async () => listened === 0 && ++listened === 1,
      },
    );
    expect(await step(null)).toBe(1);
    expect(await step(null)).toBe(2);
    expect(await step(null)).toBe(null);
    // 1 | empty, LISTEN, empty, wait → tick, 2 | empty, wait 50 ms → nothing: null
    expect(looks).toEqual(['1', 'null', 'null', '2', 'null']);
    expect(listened).toBe(1);
  });

  it('does not wait when not worth it or when no budget is left', async () => {
    const latch = new TickLatch();
    const never = async () => null;
    const listen = async () => {
      throw new Error('must not listen');
    };
    const t0 = performance.now();
    expect(
      await lingering(never, latch, { lingerMs: 5000, budgetMs: () => 5000, worth: () => false, listen })(0),
    ).toBe(null);
    expect(
      await lingering(never, latch, { lingerMs: 5000, budgetMs: () => 0, worth: () => true, listen })(0),
    ).toBe(null);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
