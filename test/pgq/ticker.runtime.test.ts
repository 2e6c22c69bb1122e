// The ticker loop: ticks and wake-ups, the single-runner guard, the deadline, retries and
// maintenance (rotation under load without losing events) — on our SQL and on the C extension.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { typeParsers } from '../../layers/db/connection.ts';
import {
  insertEvent,
  processNextBatch,
  registerConsumer,
  runTicker,
  type TickEvent,
} from '../../layers/pgq/index.ts';
import { targetNames, useTarget } from '../support/targets.ts';

describe.each(targetNames)('ticker on %s', (name) => {
  const t = useTarget(name);
  const connect = async () => {
    const c = new pg.Client({ connectionString: t.url, types: typeParsers });
    await c.connect();
    return c;
  };

  it('ticks queues with new events at sub-second periods and reports each tick', async () => {
    await t.pool.query("select pgq.create_queue('tk_fast')");
    await t.pool.query("select pgq.set_queue_config('tk_fast', 'ticker_max_lag', '0.01 seconds')");
    const ticks: TickEvent[] = [];
    const ac = new AbortController();
    const run = runTicker({
      connect,
      tickPeriodMs: 20,
      signal: ac.signal,
      onTick: (ev) => void ticks.push(ev),
    });
    // Each event gets its own tick: wait for it (generously: the machine may be busy).
    for (let i = 0; i < 5; i++) {
      const before = ticks.length;
      await insertEvent(t.pool, 'tk_fast', 'T', String(i));
      for (let w = 0; w < 500 && ticks.length === before; w++) await new Promise((r) => setTimeout(r, 10));
    }
    ac.abort();
    const stats = await run;
    expect(stats.ran).toBe(true);
    expect(stats.errors).toBe(0);
    const fast = ticks.filter((x) => x.queue === 'tk_fast');
    expect(fast.length).toBeGreaterThanOrEqual(5);
    expect(fast.every((x, i) => i === 0 || x.tickId > fast[i - 1]!.tickId)).toBe(true);
  });

  it('a second ticker on the same database does not run while the first holds the guard', async () => {
    const ac = new AbortController();
    const first = runTicker({ connect, tickPeriodMs: 20, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 200));
    const second = await runTicker({ connect, tickPeriodMs: 20, onBusy: 'exit' });
    expect(second.ran).toBe(false);
    const waiting = await runTicker({ connect, tickPeriodMs: 20, runForMs: 300 });
    expect(waiting.ran).toBe(false);
    ac.abort();
    expect((await first).ran).toBe(true);
    // Once the first is gone, the guard is free again.
    const third = await runTicker({ connect, tickPeriodMs: 20, runForMs: 200, onBusy: 'exit' });
    expect(third.ran).toBe(true);
  });

  it('stops by itself before its deadline', async () => {
    const t0 = Date.now();
    const stats = await runTicker({ connect, tickPeriodMs: 50, runForMs: 1500 });
    const took = Date.now() - t0;
    expect(stats.ran).toBe(true);
    expect(stats.tickerCalls).toBeGreaterThan(1);
    expect(took).toBeLessThan(1500);
  });

  it('moves retry events back and rotates tables under load without losing events', async () => {
    await t.pool.query("select pgq.create_queue('tk_rot')");
    await t.pool.query("select pgq.set_queue_config('tk_rot', 'ticker_max_lag', '0.01 seconds')");
    await t.pool.query("select pgq.set_queue_config('tk_rot', 'rotation_period', '0.2 seconds')");
    const cc = await t.pool.connect();
    await registerConsumer(cc, 'tk_rot', 'c');
    const ac = new AbortController();
    const run = runTicker({
      connect,
      tickPeriodMs: 20,
      retryPeriodMs: 50,
      maintPeriodMs: 100,
      signal: ac.signal,
    });
    const produced: string[] = [];
    const consumed: string[] = [];
    const tables = new Set<number>();
    let retriedOnce = false;
    const deadline = Date.now() + 90_000;
    let n = 0;
    try {
      while (Date.now() < deadline) {
        if (n < 150) {
          const v = `v${n++}`;
          produced.push(v);
          await insertEvent(t.pool, 'tk_rot', 'T', v);
        }
        await processNextBatch(cc, {
          queue: 'tk_rot',
          consumer: 'c',
          handler: async (batch) => {
            for (const ev of batch.events) {
              if (ev.data === 'v7' && !retriedOnce) {
                retriedOnce = true;
                ev.tagRetry(0);
                continue;
              }
              consumed.push(ev.data!);
              ev.tagDone();
            }
          },
        });
        tables.add(
          (await t.pool.query("select queue_cur_table as t from pgq.queue where queue_name = 'tk_rot'"))
            .rows[0].t,
        );
        if (n >= 150 && consumed.length >= produced.length && tables.size === 3) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      ac.abort();
      await run;
      cc.release();
    }
    expect(tables.size).toBe(3);
    expect(consumed.length).toBe(produced.length);
    expect([...consumed].sort()).toEqual([...produced].sort());
  }, 120_000);
});
