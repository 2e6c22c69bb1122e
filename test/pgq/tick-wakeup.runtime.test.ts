// Wake-ups by the tick: a consumer process of its own is woken by the NOTIFY our ticker sends per
// tick (on our SQL and on the C extension); on our SQL, the ticker at its defaults ticks a default
// queue as soon as its events commit but leaves a queue with ticker_max_lag set to batch, and
// between ticks its polls write no tick rows; a consumer finishing a batch has its queue polled at
// once.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { typeParsers } from '../../layers/db/connection.ts';
import { processNextBatch } from '../../layers/pgq/consumer.ts';
import { newTickerStats, runTicker, type TickEvent } from '../../layers/pgq/ticker.ts';
import { targetNames, useTarget } from '../support/targets.ts';

const fixture = path.resolve(import.meta.dirname, 'fixtures/tick-listener.ts');

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(targetNames)('tick wake-ups on %s', (name) => {
  const t = useTarget(name);
  const connect = async () => {
    const c = new pg.Client({ connectionString: t.url, types: typeParsers });
    await c.connect();
    return c;
  };
  /** A queue whose consumer has read everything so far. */
  async function waitingQueue(q: string) {
    await t.pool.query('select pgq.create_queue($1)', [q]);
    await t.pool.query('select pgq.register_consumer($1, $2)', [q, 'c']);
    await t.pool.query('select pgq.ticker($1)', [q]);
  }

  it('a consumer process with a one-minute loop delay is woken by the ticker’s NOTIFY', async () => {
    const q = 'wake_q';
    await waitingQueue(q);
    let child: ChildProcess | null = null;
    const ac = new AbortController();
    const ticker = runTicker({ connect, signal: ac.signal });
    try {
      const lines: string[] = [];
      child = spawn(process.execPath, [fixture, t.url, q, 'c'], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
      // Its first batch (up to the second tick) shows it is listening; then it sleeps a minute.
      await until('the first batch', () => lines.includes('BATCH'));
      await t.pool.query("select pgq.insert_event($1, 'T', 'hello')", [q]);
      await until('the event', () => lines.includes('EVENT hello'));
    } finally {
      child?.kill('SIGTERM');
      ac.abort();
      await ticker;
    }
  }, 60_000);
});

describe('the ticker at its defaults, on our SQL', () => {
  const t = useTarget('ours');
  const connect = async () => {
    const c = new pg.Client({ connectionString: t.url, types: typeParsers });
    await c.connect();
    return c;
  };
  const lastTick = async (q: string) =>
    (await t.pool.query('select last_tick_id as t from pgq.get_queue_info($1)', [q])).rows[0].t as bigint;
  const drain = async (q: string) => {
    for (;;) {
      const b = (await t.pool.query('select pgq.next_batch($1, $2) as b', [q, 'c'])).rows[0].b;
      if (b == null) return;
      await t.pool.query('select pgq.finish_batch($1)', [b]);
    }
  };
  async function waitingQueue(q: string, maxLag?: string) {
    await t.pool.query('select pgq.create_queue($1)', [q]);
    if (maxLag) await t.pool.query("select pgq.set_queue_config($1, 'ticker_max_lag', $2)", [q, maxLag]);
    await t.pool.query('select pgq.register_consumer($1, $2)', [q, 'c']);
    await t.pool.query('select pgq.ticker($1)', [q]);
    await drain(q);
  }

  it('ticks a default queue when its event commits, not a queue with ticker_max_lag set', async () => {
    await waitingQueue('dflt_q');
    await waitingQueue('lag_q', '1 hour');
    const before = { dflt: await lastTick('dflt_q'), lag: await lastTick('lag_q') };
    const ticks: TickEvent[] = [];
    const stats = newTickerStats();
    const ac = new AbortController();
    const ticker = runTicker({ connect, signal: ac.signal, stats, onTick: (ev) => void ticks.push(ev) });
    try {
      await t.pool.query("select pgq.insert_event('dflt_q', 'T', 'x'), pgq.insert_event('lag_q', 'T', 'x')");
      await until('the default queue’s tick', () => ticks.some((x) => x.queue === 'dflt_q'));
      // Two more passes over every queue (PgQ's rules) and the polls in between.
      const calls = stats.tickerCalls;
      await until('two more full passes', () => stats.tickerCalls >= calls + 2);
    } finally {
      ac.abort();
      await ticker;
    }
    expect(await lastTick('dflt_q')).toBeGreaterThan(before.dflt);
    expect(await lastTick('lag_q')).toBe(before.lag);
  });

  it('keeps polling a recently active queue without writing tick rows while no event comes', async () => {
    await waitingQueue('poll_q');
    const stats = newTickerStats();
    const ticks: TickEvent[] = [];
    const ac = new AbortController();
    const ticker = runTicker({ connect, signal: ac.signal, stats, onTick: (ev) => void ticks.push(ev) });
    try {
      await t.pool.query("select pgq.insert_event('poll_q', 'T', 'a'), pgq.insert_event('poll_q', 'T', 'b')");
      await until('the tick', () => ticks.some((x) => x.queue === 'poll_q'));
      await drain('poll_q');
      const rows = async () =>
        (
          await t.pool.query(
            "select count(*)::int as n from pgq.tick join pgq.queue on queue_id = tick_queue where queue_name = 'poll_q'",
          )
        ).rows[0].n as number;
      const n0 = await rows();
      const polls0 = stats.polls;
      // Within PgQ's first idle gap (ticker_max_lag / 2 = 1.5 s after the tick), nothing is due.
      await new Promise((r) => setTimeout(r, 500));
      expect(stats.polls).toBeGreaterThan(polls0);
      expect(await rows()).toBe(n0);
    } finally {
      ac.abort();
      await ticker;
    }
  });

  it('a consumer finishing its batch makes the ticker poll its queue at once, not at its next period', async () => {
    await waitingQueue('busy_q');
    const ticks: TickEvent[] = [];
    const stats = newTickerStats();
    const ac = new AbortController();
    // Periods of a minute: after the first pass, only the consumer's word can start a poll.
    const ticker = runTicker({
      connect,
      signal: ac.signal,
      stats,
      tickPeriodMs: 60_000,
      pollPeriodMs: 60_000,
      onTick: (ev) => void ticks.push(ev),
    });
    const c = await t.pool.connect();
    try {
      await until('the first pass', () => stats.tickerCalls >= 1);
      await t.pool.query("select pgq.insert_event('busy_q', 'T', 'first')");
      await t.pool.query('select pgq.ticker_poll(array[$1], null)', ['busy_q']);
      const seen: string[] = [];
      const res = await processNextBatch(c, {
        queue: 'busy_q',
        consumer: 'c',
        handler: async (batch) => {
          for (const ev of batch.events) {
            seen.push(ev.data!);
            ev.tagDone();
          }
          // Arrives while the consumer is busy: no tick for it yet.
          await t.pool.query("select pgq.insert_event('busy_q', 'T', 'second')");
        },
      });
      expect(res?.events).toBe(1);
      await until('the tick after the batch', () => ticks.some((x) => x.queue === 'busy_q'), 10_000);
      await processNextBatch(c, {
        queue: 'busy_q',
        consumer: 'c',
        handler: async (batch) => {
          for (const ev of batch.events) {
            seen.push(ev.data!);
            ev.tagDone();
          }
        },
      });
      expect(seen).toEqual(['first', 'second']);
    } finally {
      c.release();
      ac.abort();
      await ticker;
    }
  });
});
