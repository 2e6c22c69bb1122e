// BatchEventReader: a batch's events through pgq.get_batch_cursor, a chunk at a time, in id order,
// the same events (field by field) as pgq.get_batch_events; a filter; the transaction ended by
// close() and by abort() after a failure, so the connection is usable for the next batch.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchEventReader } from '../../layers/cascade/batch-events.ts';
import { useTestDatabase } from '../support/db.ts';
import { tick } from '../support/pgq.ts';

const db = useTestDatabase();
let client: pg.Client;
let batchId: bigint;

/** Inside a transaction now() is its start, not this statement's. */
async function inTransaction(c: pg.Client): Promise<boolean> {
  return (await c.query('select now() <> statement_timestamp() as tx')).rows[0].tx;
}

beforeAll(async () => {
  client = await db.connect();
  await db.query("select pgq.create_queue('rq')");
  await db.query("select pgq.register_consumer('rq', 'c')");
  // ten events over three transactions, with NULLs and text that needs quoting
  for (let t = 0; t < 3; t++) {
    const c = await db.connect();
    await c.query('begin');
    for (let i = 0; i < (t === 2 ? 4 : 3); i++) {
      await c.query("select pgq.insert_event('rq', $1, $2, $3, null, $4, null)", [
        i % 2 ? 'a' : 'b',
        `row ${t}.${i}\t'x'\n`,
        `ex1 ${t}`,
        i === 0 ? null : 'e3',
      ]);
    }
    await c.query('commit');
    await c.end();
  }
  await tick(db, 'rq');
  batchId = (await db.one("select pgq.next_batch('rq', 'c') as b")).b;
  expect(batchId).not.toBeNull();
});

describe('BatchEventReader', () => {
  it('returns the batch in chunks, in id order, equal to get_batch_events', async () => {
    const reader = new BatchEventReader(client, batchId, null, 3, 3);
    const sizes: number[] = [];
    const got: unknown[] = [];
    for (let chunk = await reader.next(); chunk; chunk = await reader.next()) {
      sizes.push(chunk.length);
      for (const ev of chunk)
        got.push([
          ev.id,
          ev.time.toISOString(),
          ev.txid,
          ev.retry,
          ev.type,
          ev.data,
          ev.extra1,
          ev.extra2,
          ev.extra3,
          ev.extra4,
        ]);
    }
    expect(sizes).toEqual([3, 3, 3, 1]);
    expect(await inTransaction(client)).toBe(false); // the last chunk ended the cursor's transaction
    const want = (
      await db.query('select * from pgq.get_batch_events($1) order by ev_id', [batchId])
    ).rows.map((r) => [
      BigInt(r.ev_id),
      (r.ev_time as Date).toISOString(),
      BigInt(r.ev_txid),
      r.ev_retry,
      r.ev_type,
      r.ev_data,
      r.ev_extra1,
      r.ev_extra2,
      r.ev_extra3,
      r.ev_extra4,
    ]);
    expect(want).toHaveLength(10);
    expect(got).toEqual(want);
  });

  it('an exact multiple of the chunk size ends with an empty fetch; a filter keeps its events only', async () => {
    const all = new BatchEventReader(client, batchId, null, 5, 5);
    const sizes: number[] = [];
    for (let chunk = await all.next(); chunk; chunk = await all.next()) sizes.push(chunk.length);
    expect(sizes).toEqual([5, 5]);
    const onlyA = new BatchEventReader(client, batchId, "ev_type = 'a'", 2);
    const types: (string | null)[] = [];
    for (let chunk = await onlyA.next(); chunk; chunk = await onlyA.next())
      types.push(...chunk.map((e) => e.type));
    expect(types).toEqual(['a', 'a', 'a', 'a']);
    expect(await inTransaction(client)).toBe(false);
  });

  it('the first fetch is the small one; the batch sorts in memory (work_mem raised in its transaction)', async () => {
    const reader = new BatchEventReader(client, batchId, null, 4, 2);
    const sizes: number[] = [];
    let workMem = '';
    for (let chunk = await reader.next(); chunk; chunk = await reader.next()) {
      if (sizes.length === 0) workMem = (await client.query('show work_mem')).rows[0].work_mem;
      sizes.push(chunk.length);
    }
    expect(sizes).toEqual([2, 4, 4]);
    expect(workMem).toBe('64MB');
    // local to the cursor's transaction: the session's setting is back
    expect((await client.query('show work_mem')).rows[0].work_mem).not.toBe('64MB');
    // by default the first fetch is min(chunk, 1000)
    const dflt = new BatchEventReader(client, batchId, null, 6);
    const d: number[] = [];
    for (let chunk = await dflt.next(); chunk; chunk = await dflt.next()) d.push(chunk.length);
    expect(d).toEqual([6, 4]);
  });

  it('close() before the end and abort() after a failure leave no transaction open', async () => {
    const early = new BatchEventReader(client, batchId, null, 2);
    expect(await early.next()).toHaveLength(2);
    await early.close();
    expect(await early.next()).toBeNull();
    expect(await inTransaction(client)).toBe(false);

    const bad = new BatchEventReader(client, batchId, 'no_such_column = 1', 2);
    await expect(bad.next()).rejects.toThrow(/no_such_column/);
    await bad.abort();
    expect(await inTransaction(client)).toBe(false);
    // the connection reads the batch again from the start
    const again = new BatchEventReader(client, batchId, null, 100);
    expect(await again.next()).toHaveLength(10);
    expect(await again.next()).toBeNull();
  });
});
