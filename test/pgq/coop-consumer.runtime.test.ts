// Cooperative consumer runtime (layers/pgq/coop-consumer.ts) on pgq_coop: subconsumers share one
// consumer's batches; a dead subconsumer's claimed batch is taken over after dead_interval; a
// failing handler gets its own batch back; several looping subconsumers process every event once.
import { describe, expect, it } from 'vitest';
import {
  claimCoopBatch,
  processNextCoopBatch,
  registerSubconsumer,
  runCoopConsumer,
} from '../../layers/pgq/coop-consumer.ts';
import { useTestDatabase } from '../support/db.ts';
import { tick } from '../support/pgq.ts';

const db = useTestDatabase();

async function produce(queue: string, from: number, n: number) {
  await db.query("select pgq.insert_event($1, 'ev', g::text) from generate_series($2::int, $3::int) g", [
    queue,
    from,
    from + n - 1,
  ]);
  await tick(db, queue);
}

describe('cooperative consumer', () => {
  it("takes over a dead subconsumer's batch after dead_interval, and only then", async () => {
    await db.query("select pgq.create_queue('coop1')");
    const dead = await db.connect();
    const alive = await db.connect();
    await registerSubconsumer(dead, 'coop1', 'cc', 's1');
    expect(await registerSubconsumer(alive, 'coop1', 'cc', 's2')).toBe(true);
    expect(await registerSubconsumer(alive, 'coop1', 'cc', 's2')).toBe(false);
    await produce('coop1', 1, 10);
    await produce('coop1', 11, 10);
    await produce('coop1', 21, 10);

    // s1 claims a batch and dies without finishing it
    const claimed = await claimCoopBatch(dead, {
      queue: 'coop1',
      consumer: 'cc',
      subconsumer: 's1',
      handler: async () => {},
    });
    expect(claimed).not.toBeNull();
    await dead.end();

    const got: string[] = [];
    const batches: bigint[] = [];
    const opts = {
      queue: 'coop1',
      consumer: 'cc',
      subconsumer: 's2',
      deadIntervalMs: 1500,
      handler: async (b: { batchId: bigint; events: { data: string | null; tagDone(): void }[] }) => {
        batches.push(b.batchId);
        for (const e of b.events) {
          got.push(e.data!);
          e.tagDone();
        }
      },
    };
    // s1 is not silent long enough yet: s2 gets the other batches, then nothing
    for (;;) {
      const r = await processNextCoopBatch(alive, opts);
      if (!r) break;
    }
    expect(batches).not.toContain(claimed!.batchId);
    expect(got).toHaveLength(20);

    await new Promise((r) => setTimeout(r, 2000));
    const taken = await processNextCoopBatch(alive, opts);
    expect(taken?.batchId).toBe(claimed!.batchId);
    expect(taken?.events).toBe(10);
    expect(got.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    // the dead subconsumer is gone, the live one remains
    const subs = await db.query("select consumer_name from pgq.get_consumer_info('coop1') order by 1");
    expect(subs.rows.map((r) => r.consumer_name)).toEqual(['cc', 'cc.s2']);
  });

  it('a failing handler leaves the batch with its subconsumer, which gets it again', async () => {
    await db.query("select pgq.create_queue('coop2')");
    const c = await db.connect();
    await registerSubconsumer(c, 'coop2', 'cc', 'a');
    await produce('coop2', 1, 5);
    await produce('coop2', 6, 5);
    const base = { queue: 'coop2', consumer: 'cc', subconsumer: 'a' };
    let first: bigint | null = null;
    await expect(
      processNextCoopBatch(c, {
        ...base,
        handler: async (b) => {
          first = b.batchId;
          throw new Error('handler failed');
        },
      }),
    ).rejects.toThrow('handler failed');
    let again: bigint | null = null;
    const res = await processNextCoopBatch(c, {
      ...base,
      handler: async (b) => {
        again = b.batchId;
        for (const e of b.events) e.tagDone();
      },
    });
    expect(res?.events).toBe(5);
    expect(again).toBe(first);
  });

  it('three looping subconsumers process every event exactly once', async () => {
    await db.query("select pgq.create_queue('coop3')");
    const c = await db.connect();
    for (const s of ['x', 'y', 'z']) await registerSubconsumer(c, 'coop3', 'cc', s);
    await db.query('create table coop_seen (sub text, data int)');
    for (let i = 0; i < 20; i++) await produce('coop3', i * 10 + 1, 10);
    const ctl = new AbortController();
    const loops = ['x', 'y', 'z'].map((s) =>
      runCoopConsumer({
        pool: db.pool,
        queue: 'coop3',
        consumer: 'cc',
        subconsumer: s,
        loopDelayMs: 50,
        signal: ctl.signal,
        handler: async (b, client) => {
          for (const e of b.events) {
            await client.query('insert into coop_seen values ($1, $2)', [s, Number(e.data)]);
            e.tagDone();
          }
        },
      }),
    );
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const n = (await db.one('select count(*)::int as n from coop_seen')).n;
      if (n >= 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    ctl.abort();
    const stats = await Promise.all(loops);
    const rows = (await db.query('select data from coop_seen order by data')).rows.map((r) => r.data);
    expect(rows).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(stats.reduce((a, s) => a + s.batches, 0)).toBe(20);
  });
});
