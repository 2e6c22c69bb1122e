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
import { runPgqd } from '../../layers/pgq/pgqd.ts';
import { createLogger } from '../../layers/util/log.ts';
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
    const lines: string[] = [];
    const log = createLogger({ level: 'info', write: (l) => lines.push(l) });
    const waiting = await runTicker({ connect, tickPeriodMs: 20, runForMs: 2500, log });
    expect(waiting.ran).toBe(false);
    // said once, at INFO, not once per attempt
    expect(lines.filter((l) => /INFO .*another ticker holds this database; waiting/.test(l))).toHaveLength(1);
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

describe('pgqd with a database_list naming a missing database', () => {
  const t = useTarget(targetNames[0]!);
  it('names the missing database in its errors and keeps ticking the others', async () => {
    const u = new URL(t.url);
    const dbName = u.pathname.slice(1);
    const c = await (async () => {
      const c = new pg.Client({ connectionString: t.url, types: typeParsers });
      await c.connect();
      return c;
    })();
    try {
      await c.query("select pgq.create_queue('pgqd_missing_q')");
      await c.query("select pgq.set_queue_config('pgqd_missing_q', 'ticker_max_lag', '0')");
      const before = (await c.query("select last_tick_id as t from pgq.get_queue_info('pgqd_missing_q')"))
        .rows[0].t;
      const lines: string[] = [];
      const ac = new AbortController();
      const done = runPgqd({
        config: {
          base: { connectionString: t.url },
          initialDatabase: dbName,
          databaseList: [dbName, 'no_such_database_here'],
          tickerPeriodMs: 50,
          retryPeriodMs: 1000,
          maintPeriodMs: 60_000,
          checkPeriodMs: 60_000,
        },
        signal: ac.signal,
        log: createLogger({ level: 'info', write: (l) => lines.push(l) }),
      });
      await c.query("select pgq.insert_event('pgqd_missing_q', 'T', 'x')");
      let after = before;
      for (let i = 0; i < 60 && after === before; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = (await c.query("select last_tick_id as t from pgq.get_queue_info('pgqd_missing_q')")).rows[0]
          .t;
      }
      await new Promise((r) => setTimeout(r, 500));
      ac.abort();
      await done;
      expect(after).toBeGreaterThan(before);
      const failures = lines.filter((l) => /ticker failed/.test(l));
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((l) => /database=no_such_database_here/.test(l))).toBe(true);
      expect(lines.join('\n')).not.toMatch(/database=\?/);
      // backing off: not one attempt per tick period
      expect(failures.length).toBeLessThan(10);
    } finally {
      await c.end();
    }
  });
});
