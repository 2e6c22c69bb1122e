// The ticker's schedule on our SQL (layers/pgq/tick-poll.ts), driven step by step: a full pass
// over more queues than a chunk runs chunk by chunk, subscribed queues first, and the hot queues'
// polls take turns with its chunks (one long pass held them up: the 1,000-queue p99); once the
// pass is done, a commit anywhere makes it poll the subscribed queues, not every queue — also
// between two chunks of a pass. With a second connection, the chunks run there without the
// subscribed queues, and a chunk waiting on a lock does not hold up a subscribed queue's tick.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type Look, TickPoller } from '../../layers/pgq/tick-poll.ts';
import { newTickerStats } from '../../layers/pgq/ticker.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { useTestDatabase } from '../support/db.ts';
import { drain, tick } from '../support/pgq.ts';

const db = useTestDatabase();

/**
 * A default queue whose consumer has read everything so far, i.e. waits for the next tick. With
 * one event read already: a queue's first event leaves its event sequence's last_value where it
 * was, so its tick counts no new events and does not make the queue hot.
 */
async function waitingQueue(q: string) {
  await db.query('select pgq.create_queue($1)', [q]);
  await db.query('select pgq.register_consumer($1, $2)', [q, 'c']);
  await db.query("select pgq.insert_event($1, 'T', 'first')", [q]);
  await tick(db, q);
  expect(await drain(db, q, 'c')).toEqual(['first']);
}

describe('the ticker’s schedule over many queues', () => {
  it('runs a full pass in chunks, subscribed queues first, with the hot queues’ polls in between', async () => {
    await waitingQueue('cc');
    await waitingQueue('ce');
    for (const q of ['ca', 'cb', 'cd']) await db.query('select pgq.create_queue($1)', [q]);
    const c = await db.connect();
    // Periods of a minute: only the steps below decide what runs.
    const poller = (await TickPoller.open(c, { tickMs: 60_000, pollMs: 5, chunkQueues: 2 }))!;
    const stats = newTickerStats();
    const looks: Look[] = [];
    const step = async () => {
      const look = await poller.due(Date.now());
      if (look) {
        looks.push({ kind: look.kind, queues: look.queues && [...look.queues] });
        await poller.pass(look, stats, undefined, silentLogger);
      }
      return look;
    };
    const ticksOf = async (q: string) =>
      Number(
        (
          await db.one(
            'select count(*) as n from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where q.queue_name = $1',
            [q],
          )
        ).n,
      );

    await db.query("select pgq.insert_event('cc', 'T', '1')");
    const cc0 = await ticksOf('cc');
    await step(); // the first chunk: the subscribed queues; cc is ticked for its event (hot now)
    expect(await ticksOf('cc')).toBe(cc0 + 1);
    expect(await drain(db, 'cc', 'c')).toEqual(['1']);
    await db.query("select pgq.insert_event('cc', 'T', '2')");
    await step(); // the hot poll, before the rest of the pass
    expect(await drain(db, 'cc', 'c')).toEqual(['2']);
    await step(); // the next chunk
    await new Promise((r) => setTimeout(r, 20)); // the hot poll's period
    await step(); // hot again
    await step(); // the last chunk
    expect(looks).toEqual([
      { kind: 'full', queues: ['cc', 'ce'] },
      { kind: 'hot', queues: ['cc'] },
      { kind: 'full', queues: ['ca', 'cb'] },
      { kind: 'hot', queues: ['cc'] },
      { kind: 'full', queues: ['cd'] },
    ]);
    expect(stats.tickerCalls).toBe(1);
    expect(stats.polls).toBe(2);

    // Pass done. A commit on a subscribed queue that is not hot: the subscribed queues' poll
    // (right after a pass, the next full one is still 20× its duration away) ticks it.
    await db.query("select pgq.insert_event('ce', 'T', '3')");
    looks.length = 0;
    // As the ticker loop does: straight on after a look, a short sleep when nothing was due.
    for (let i = 0; i < 100 && !looks.some((l) => l.kind === 'sub'); i++) {
      if (!(await step())) await new Promise((r) => setTimeout(r, 2));
    }
    expect(looks.find((l) => l.kind !== 'hot')).toEqual({ kind: 'sub', queues: ['cc', 'ce'] });
    expect(await drain(db, 'ce', 'c')).toEqual(['3']);
    expect(stats.tickerCalls).toBe(1);
  });

  it('polls the subscribed queues between two chunks of a pass when something committed', async () => {
    await waitingQueue('dd');
    for (const q of ['da', 'db']) await db.query('select pgq.create_queue($1)', [q]);
    const c = await db.connect();
    const poller = (await TickPoller.open(c, { tickMs: 60_000, pollMs: 5, chunkQueues: 3 }))!;
    const stats = newTickerStats();
    const first = await poller.due(Date.now());
    // Subscribed queues first (those of the test above too); up to a chunk of them are polled.
    expect(first).toEqual({ kind: 'full', queues: ['cc', 'ce', 'dd'] });
    await poller.pass(first!, stats, undefined, silentLogger);
    await db.query("select pgq.insert_event('dd', 'T', 'x')");
    const next = await poller.due(Date.now());
    expect(next).toEqual({ kind: 'sub', queues: ['cc', 'ce', 'dd'] });
    await poller.pass(next!, stats, undefined, silentLogger);
    expect(await drain(db, 'dd', 'c')).toEqual(['x']);
    // Then the pass goes on.
    expect(await poller.due(Date.now())).toEqual({ kind: 'full', queues: ['ca', 'cb', 'cd'] });
  });

  it('runs a chunked pass on the side connection while the subscribed queues are polled here', async () => {
    await waitingQueue('ec');
    // a0: due by PgQ's rules (two events, ticker_max_count 1), sorted first among the rest.
    await db.query("select pgq.create_queue('a0')");
    await db.query("select pgq.set_queue_config('a0', 'ticker_max_count', '1')");
    await db.query("select pgq.insert_event('a0', 'T', 'a'), pgq.insert_event('a0', 'T', 'b')");
    const locker = await db.connect();
    const c = await db.connect();
    const opened: pg.Client[] = [];
    const connect = async () => {
      const side = await db.connect();
      opened.push(side);
      return side;
    };
    const poller = (await TickPoller.open(c, { tickMs: 60_000, pollMs: 5, chunkQueues: 5, connect }))!;
    const stats = newTickerStats();
    try {
      // Its tick will wait for this lock.
      await locker.query('begin');
      await locker.query("select 1 from pgq.queue where queue_name = 'a0' for update");
      const first = await poller.due(Date.now());
      // The subscribed queues by PgQ's rules, here; the rest goes to the side connection.
      expect(first).toEqual({ kind: 'sub', queues: ['cc', 'ce', 'dd', 'ec'] });
      expect(opened).toHaveLength(1);
      await poller.pass(first!, stats, undefined, silentLogger);
      const chunk = await poller.due(Date.now());
      expect(chunk).toEqual({ kind: 'full', queues: ['a0', 'ca', 'cb', 'cd', 'da'] });
      await poller.pass(chunk!, stats, undefined, silentLogger); // not waited for
      expect(poller.side!.busy).toBe(true);
      // Meanwhile an event on a subscribed queue is ticked on this connection.
      await db.query("select pgq.insert_event('ec', 'T', 'now')");
      let look: Look | undefined;
      for (let i = 0; i < 200 && look?.kind !== 'sub'; i++) {
        look = await poller.due(Date.now());
        if (look) await poller.pass(look, stats, undefined, silentLogger);
        else await new Promise((r) => setTimeout(r, 2));
      }
      expect(look).toEqual({ kind: 'sub', queues: ['cc', 'ce', 'dd', 'ec'] });
      expect(await drain(db, 'ec', 'c')).toEqual(['now']);
      expect(poller.side!.busy).toBe(true);
      // Released: the chunk ticks a0 and the pass goes on with the next chunk.
      await locker.query('rollback');
      for (let i = 0; i < 500 && poller.side!.busy; i++) await new Promise((r) => setTimeout(r, 2));
      expect(poller.side!.busy).toBe(false);
      const ticked = await db.one<{ n: string }>(
        "select count(*) as n from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where q.queue_name = 'a0'",
      );
      expect(Number(ticked.n)).toBe(2);
      // The latency polls first (a0 and ec are hot now, the chunk's commit is a commit); then the
      // pass goes on.
      let next: Look | undefined;
      for (let i = 0; i < 100; i++) {
        next = await poller.due(Date.now());
        if (next?.kind === 'full') break;
        if (next) await poller.pass(next, stats, undefined, silentLogger);
        else await new Promise((r) => setTimeout(r, 2));
      }
      expect(next).toEqual({ kind: 'full', queues: ['db'] });
    } finally {
      await locker.end();
      await poller.side!.close();
      await c.end();
    }
  });
});

describe('the snapshot look while nothing commits', () => {
  /** Just enough of a connection for TickPoller: our SQL, one subscribed queue, a fixed snapshot. */
  function fakeClient(snapshot: { s: string }) {
    const looks: number[] = [];
    const client = {
      on() {},
      async query(sql: string) {
        if (sql.includes('to_regprocedure')) return { rows: [{ ok: true }] };
        if (sql.startsWith('listen')) return { rows: [] };
        if (sql.includes('txid_current_snapshot')) {
          looks.push(Date.now());
          return { rows: [{ s: snapshot.s }] };
        }
        if (sql.includes('array_agg')) return { rows: [{ s: ['q1'], n: null }] };
        return { rows: [] }; // pgq.ticker_poll: nothing to tick
      },
    };
    return { client: client as unknown as pg.ClientBase, looks };
  }

  it('looks every scan period after a commit, slower the longer nothing commits, at most every 50 ms', async () => {
    const snap = { s: '100:100:' };
    const { client } = fakeClient(snap);
    const poller = (await TickPoller.open(client, { tickMs: 60_000, pollMs: 5 }))!;
    const stats = newTickerStats();
    const t0 = Date.now();
    // The first pass (one statement over every queue) lists the subscribed queue.
    const first = await poller.due(t0);
    await poller.pass(first!, stats, undefined, silentLogger);
    // The first look sees a snapshot (a change): the next one a scan period later.
    await poller.due(t0 + 20);
    expect(poller.nextAt() - (t0 + 20)).toBe(10);
    expect(poller.quietScanMs(t0 + 20)).toBe(10);
    // Nothing commits: 1 s later the period is 20 ms, 2.5 s later and after that 50 ms.
    expect(poller.quietScanMs(t0 + 1020)).toBe(20);
    expect(poller.quietScanMs(t0 + 2520)).toBe(50);
    expect(poller.quietScanMs(t0 + 60_000)).toBe(50);
    await poller.due(t0 + 2520);
    expect(poller.nextAt() - (t0 + 2520)).toBe(50);
    // A commit: back to the scan period at once.
    snap.s = '100:101:';
    const look = await poller.due(t0 + 2580);
    // (a pass over every queue here: a pass over one queue costs nothing, so it may follow any commit)
    expect(look?.kind).toBe('full');
    expect(poller.quietScanMs(t0 + 2580)).toBe(10);
  });
});
