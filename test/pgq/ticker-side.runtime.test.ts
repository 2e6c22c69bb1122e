// The ticker's side connection (layers/pgq/ticker-side.ts) on a database with more queues than a
// pass's chunk: it is opened for the pass once a queue has a consumer, the subscribed queue is
// still ticked for its events, and when that connection is killed the ticker reconnects by itself
// and goes on — nothing lost.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { CHUNK_QUEUES } from '../../layers/pgq/tick-poll.ts';
import { runTicker } from '../../layers/pgq/ticker.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { useTestDatabase } from '../support/db.ts';
import { drain } from '../support/pgq.ts';

const db = useTestDatabase();

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the ticker’s side connection', () => {
  it('runs the pass there, keeps ticking the subscribed queue, and recovers when it is killed', async () => {
    await db.query(
      `select count(pgq.create_queue('sq' || lpad(i::text, 4, '0'))) from generate_series(0, $1) i`,
      [CHUNK_QUEUES],
    );
    await db.query("select pgq.register_consumer('sq0000', 'c')");
    const opened: { client: pg.Client; pid: number }[] = [];
    const connect = async () => {
      const client = await db.connect();
      const pid = Number((await client.query<{ p: number }>('select pg_backend_pid() as p')).rows[0]!.p);
      opened.push({ client, pid });
      return client;
    };
    const ac = new AbortController();
    const run = runTicker({
      connect,
      tickPeriodMs: 200,
      signal: ac.signal,
      log: silentLogger,
      maxBackoffMs: 500,
    });
    try {
      // The ticker's own connection, then the side one for the first chunked pass.
      await until('the side connection', () => opened.length >= 2);
      const got: string[] = [];
      const delivered = async (ev: string) => {
        got.push(...(await drain(db, 'sq0000', 'c')));
        return got.includes(ev);
      };
      await db.query("select pgq.insert_event('sq0000', 'T', 'one')");
      await until('the first event', () => delivered('one'));

      // Kill the side connection: the ticker notices at its next job there, reconnects, and
      // opens a new side connection; events are ticked as before.
      await db.query('select pg_terminate_backend($1)', [opened[1]!.pid]);
      await db.query("select pgq.insert_event('sq0000', 'T', 'two')");
      await until('the event after the kill', () => delivered('two'));
      await until('a new side connection', () => opened.length >= 4);
      await db.query("select pgq.insert_event('sq0000', 'T', 'three')");
      await until('the event after the reconnect', () => delivered('three'));
      expect(got).toEqual(['one', 'two', 'three']);
    } finally {
      ac.abort();
      const stats = await run;
      expect(stats.ran).toBe(true);
      expect(stats.errors).toBeGreaterThanOrEqual(1);
    }
    // Every connection the ticker opened is closed at its end, the side ones too.
    // (a backend leaves pg_stat_activity a moment after its client has gone)
    const left = async () =>
      Number(
        (
          await db.one<{ n: string }>(
            'select count(*) as n from pg_stat_activity where pid = any ($1::int[])',
            [opened.map((o) => o.pid)],
          )
        ).n,
      );
    await until('the ticker’s connections to close', async () => (await left()) === 0, 5000);
  });
});
