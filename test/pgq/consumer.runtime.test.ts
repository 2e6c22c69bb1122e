// The consumer runtime against our SQL and against the original C extension: batches, tags,
// retries, lazy fetch, crash safety, and the long-running loop.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  insertEvent,
  insertEvents,
  PgqError,
  processNextBatch,
  registerConsumer,
  runConsumer,
  tickOnce,
} from '../../layers/pgq/index.ts';
import { tick } from '../support/pgq.ts';
import { targetNames, useTarget } from '../support/targets.ts';

describe.each(targetNames)('consumer on %s', (name) => {
  const t = useTarget(name);

  async function setup(queue: string, consumer = 'c') {
    await t.pool.query('select pgq.create_queue($1)', [queue]);
    const c = await t.pool.connect();
    try {
      await registerConsumer(c, queue, consumer);
    } finally {
      c.release();
    }
  }

  it('without a log option, a consumer retrying a missing queue says so on stderr', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const ac = new AbortController();
    try {
      const loop = runConsumer({
        pool: t.pool,
        queue: 'rt_no_such_queue',
        consumer: 'c',
        handler: async () => {},
        loopDelayMs: 50,
        signal: ac.signal,
      });
      for (let i = 0; i < 100 && written.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      ac.abort();
      await loop;
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).toMatch(/(WARN|ERROR).*rt_no_such_queue/);
  });

  it('a batch costs two round trips (begin + next_batch + its events, finish + commit), a big one three, none two', async () => {
    await setup('rt_trips');
    // Ticked by the ticker's own rule (one event is enough): the batch's event span is 1.
    await t.pool.query("select pgq.set_queue_config('rt_trips', 'ticker_max_count', '1')");
    await insertEvent(t.pool, 'rt_trips', 'T', "it's");
    expect((await t.pool.query("select pgq.ticker('rt_trips') as t")).rows[0].t).not.toBeNull();
    const c = await t.pool.connect();
    const sent: string[] = [];
    const query = c.query;
    c.query = ((...args: Parameters<typeof query>) => {
      const q = args[0] as unknown;
      sent.push(typeof q === 'string' ? q : (q as { text: string }).text);
      return (query as (...a: unknown[]) => unknown).apply(c, args);
    }) as typeof query;
    try {
      let want = ["it's"];
      const opts = {
        queue: 'rt_trips',
        consumer: 'c',
        handler: async (b: { events: { data: string | null; tagDone(): void }[] }) => {
          expect(b.events.map((e) => e.data)).toEqual(want);
          for (const e of b.events) e.tagDone();
        },
      };
      expect((await processNextBatch(c, opts))?.events).toBe(1);
      expect(sent).toHaveLength(2);
      // A forced tick moves the event sequence on by thousands (pgq.force_tick): the batch's
      // span says "big", so its events are read by the batch's SQL — the same events.
      want = ['a', 'b'];
      await insertEvents(t.pool, 'rt_trips', [
        { type: 'T', data: 'a' },
        { type: 'T', data: 'b' },
      ]);
      await tick(t.pool, 'rt_trips');
      sent.length = 0;
      expect((await processNextBatch(c, opts))?.events).toBe(2);
      expect(sent).toHaveLength(3);
      sent.length = 0;
      expect(await processNextBatch(c, opts)).toBeNull();
      expect(sent).toHaveLength(2);
      // Nothing left open: the connection is outside a transaction.
      expect((await c.query('select now() = statement_timestamp() as idle')).rows[0].idle).toBe(true);
    } finally {
      c.query = query;
      c.release();
    }
  });

  it('a small batch with no event in it (rolled-back inserts) opens and finishes in two round trips', async () => {
    await setup('rt_empty');
    await t.pool.query("select pgq.set_queue_config('rt_empty', 'ticker_max_count', '1')");
    const c = await t.pool.connect();
    try {
      await c.query('begin');
      await insertEvent(c, 'rt_empty', 'T', 'gone');
      await c.query('rollback');
      expect((await c.query("select pgq.ticker('rt_empty') as t")).rows[0].t).not.toBeNull();
      const seen: number[] = [];
      const res = await processNextBatch(c, {
        queue: 'rt_empty',
        consumer: 'c',
        handler: async (b) => {
          seen.push(b.events.length);
        },
      });
      expect(res?.events).toBe(0);
      expect(seen).toEqual([0]);
    } finally {
      c.release();
    }
  });

  it('hands the handler typed events and finishes the batch with their effects', async () => {
    await setup('rt_basic');
    await t.pool.query('create table sink (ev_id bigint primary key, data text)');
    const id = await insertEvent(t.pool, 'rt_basic', 'order', '{"id":1}', {
      extra1: 'public.orders',
      extra4: 'x',
    });
    await insertEvents(t.pool, 'rt_basic', [
      { type: 'order', data: '2' },
      { type: 'refund', data: '3', extra2: 'e2' },
    ]);
    await tick(t.pool, 'rt_basic');
    const c = await t.pool.connect();
    try {
      const res = await processNextBatch(c, {
        queue: 'rt_basic',
        consumer: 'c',
        handler: async (batch, tx) => {
          expect(batch.events.map((e) => [e.type, e.data])).toEqual([
            ['order', '{"id":1}'],
            ['order', '2'],
            ['refund', '3'],
          ]);
          const first = batch.events[0]!;
          expect(first.id).toBe(id);
          expect(first.extra1).toBe('public.orders');
          expect(first.extra4).toBe('x');
          expect(first.time).toBeInstanceOf(Date);
          expect(typeof first.txid).toBe('bigint');
          expect(batch.events[2]!.extra2).toBe('e2');
          expect(batch.tickId).toBeGreaterThan(batch.prevTickId);
          for (const ev of batch.events) {
            await tx.query('insert into sink values ($1, $2)', [ev.id, ev.data]);
            ev.tagDone();
          }
        },
      });
      expect(res?.events).toBe(3);
      expect(
        await processNextBatch(c, { queue: 'rt_basic', consumer: 'c', handler: async () => {} }),
      ).toBeNull();
    } finally {
      c.release();
    }
    expect((await t.pool.query('select count(*)::int as n from sink')).rows[0].n).toBe(3);
  });

  it('rolls back and re-delivers the batch when events are left untagged or the handler throws', async () => {
    await setup('rt_untagged');
    await t.pool.query('create table sink2 (ev_id bigint primary key)');
    await insertEvent(t.pool, 'rt_untagged', 'T', 'a');
    await tick(t.pool, 'rt_untagged');
    const c = await t.pool.connect();
    try {
      const sloppy = processNextBatch(c, {
        queue: 'rt_untagged',
        consumer: 'c',
        handler: async (batch, tx) => {
          await tx.query('insert into sink2 values ($1)', [batch.events[0]!.id]);
        },
      });
      await expect(sloppy).rejects.toBeInstanceOf(PgqError);
      await expect(sloppy).rejects.toThrow(/1 event\(s\) left untagged/);
      await expect(
        processNextBatch(c, {
          queue: 'rt_untagged',
          consumer: 'c',
          handler: async () => {
            throw new Error('handler exploded');
          },
        }),
      ).rejects.toThrow('handler exploded');
      expect((await t.pool.query('select count(*)::int as n from sink2')).rows[0].n).toBe(0);
      const res = await processNextBatch(c, {
        queue: 'rt_untagged',
        consumer: 'c',
        untagged: 'done',
        handler: async (batch) => {
          expect(batch.events.map((e) => e.data)).toEqual(['a']);
        },
      });
      expect(res?.events).toBe(1);
    } finally {
      c.release();
    }
  });

  it('sends retried events back to the same consumer after the delay', async () => {
    await setup('rt_retry');
    await insertEvent(t.pool, 'rt_retry', 'T', 'flaky');
    await tick(t.pool, 'rt_retry');
    const c = await t.pool.connect();
    try {
      const res = await processNextBatch(c, {
        queue: 'rt_retry',
        consumer: 'c',
        handler: async (batch) => {
          for (const ev of batch.events) {
            expect(() => ev.tagRetry(-1)).toThrow(PgqError);
            ev.tagRetry(0);
          }
        },
      });
      expect(res?.retried).toBe(1);
      await c.query('select pgq.maint_retry_events()');
      await tick(t.pool, 'rt_retry');
      const seen: Array<[string | null, number | null]> = [];
      await processNextBatch(c, {
        queue: 'rt_retry',
        consumer: 'c',
        handler: async (batch) => {
          for (const ev of batch.events) {
            seen.push([ev.data, ev.retry]);
            ev.tagDone();
          }
        },
      });
      expect(seen).toEqual([['flaky', 1]]);
    } finally {
      c.release();
    }
  });

  it('fetches big batches lazily through a cursor', async () => {
    await setup('rt_lazy');
    await insertEvents(
      t.pool,
      'rt_lazy',
      Array.from({ length: 250 }, (_, i) => ({ type: 'T', data: String(i) })),
    );
    await tick(t.pool, 'rt_lazy');
    const c = await t.pool.connect();
    try {
      const seen: string[] = [];
      const res = await processNextBatch(c, {
        queue: 'rt_lazy',
        consumer: 'c',
        lazyFetch: 40,
        handler: async (batch) => {
          expect(batch.events).toEqual([]);
          for await (const ev of batch) {
            seen.push(ev.data!);
            ev.tagDone();
          }
        },
      });
      expect(res?.events).toBe(250);
      expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => String(i)));
    } finally {
      c.release();
    }
  });

  it('a lazy handler that stops reading early fails instead of skipping events', async () => {
    await setup('rt_lazy_stop');
    await insertEvents(t.pool, 'rt_lazy_stop', [
      { type: 'T', data: '1' },
      { type: 'T', data: '2' },
      { type: 'T', data: '3' },
    ]);
    await tick(t.pool, 'rt_lazy_stop');
    const c = await t.pool.connect();
    try {
      await expect(
        processNextBatch(c, {
          queue: 'rt_lazy_stop',
          consumer: 'c',
          lazyFetch: 1,
          handler: async (batch) => {
            for await (const ev of batch) {
              ev.tagDone();
              break;
            }
          },
        }),
      ).rejects.toBeInstanceOf(PgqError);
    } finally {
      c.release();
    }
  });

  it('a consumer process killed mid-batch loses nothing: the batch comes back, effects once', async () => {
    await setup('rt_crash');
    await t.pool.query('create table consumed (ev_id bigint primary key, ev_data text)');
    await insertEvents(
      t.pool,
      'rt_crash',
      Array.from({ length: 20 }, (_, i) => ({ type: 'T', data: `e${i}` })),
    );
    await tick(t.pool, 'rt_crash');
    const child = spawn(
      process.execPath,
      [path.join(import.meta.dirname, 'fixtures', 'crashing-consumer.ts'), t.url, 'rt_crash', 'c'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const tickId = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        const m = /READY (\d+)/.exec(d.toString());
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`consumer child exited early with ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    // The child's transaction died with it: nothing was recorded, the batch was never taken.
    expect((await t.pool.query('select count(*)::int as n from consumed')).rows[0].n).toBe(0);
    const c = await t.pool.connect();
    try {
      let again: bigint | null = null;
      // The server notices the dead connection when the socket closes; allow a moment.
      for (let i = 0; i < 50 && again === null; i++) {
        try {
          const res = await processNextBatch(c, {
            queue: 'rt_crash',
            consumer: 'c',
            handler: async (batch, tx) => {
              for (const ev of batch.events) {
                await tx.query('insert into consumed values ($1, $2)', [ev.id, ev.data]);
                ev.tagDone();
              }
            },
          });
          again = res?.tickId ?? null;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // Same events again: the batch closes at the same tick.
      expect(String(again)).toBe(tickId);
    } finally {
      c.release();
    }
    const rows = (await t.pool.query('select ev_data from consumed order by ev_id')).rows.map(
      (r) => r.ev_data,
    );
    expect(rows).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`));
  });

  it('the long-running loop registers, drains, sleeps, and stops on abort', async () => {
    await t.pool.query("select pgq.create_queue('rt_loop')");
    await t.pool.query('create table loop_sink (data text)');
    const ac = new AbortController();
    const seen: string[] = [];
    const loop = runConsumer({
      pool: t.pool,
      queue: 'rt_loop',
      consumer: 'looper',
      register: true,
      loopDelayMs: 50,
      signal: ac.signal,
      handler: async (batch, tx) => {
        for (const ev of batch.events) {
          seen.push(ev.data!);
          await tx.query('insert into loop_sink values ($1)', [ev.data]);
          ev.tagDone();
        }
      },
    });
    // wait for registration
    for (let i = 0; i < 50; i++) {
      const r = await t.pool.query("select count(*)::int as n from pgq.get_consumer_info('rt_loop')");
      if (r.rows[0].n > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 5; i++) {
      await insertEvent(t.pool, 'rt_loop', 'T', `m${i}`);
      const c = await t.pool.connect();
      try {
        await c.query('select pgq.force_tick($1)', ['rt_loop']);
        await tickOnce(c);
      } finally {
        c.release();
      }
    }
    for (let i = 0; i < 100 && seen.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    const stats = await loop;
    expect(seen).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(stats.events).toBe(5);
    expect(stats.errors).toBe(0);
  });
});
