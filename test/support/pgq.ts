// Small PgQ helpers for tests: drive ticks and batches with plain SQL so the SQL API itself is
// what is being tested.
import type pg from 'pg';

// Anything with pg's query(text, params) — a Client, a Pool or a TestDb.
type Q = {
  query<R extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
};

/** Forces a tick now (force_tick + ticker) and returns its id. */
export async function tick(db: Q, queue: string): Promise<bigint> {
  await db.query('select pgq.force_tick($1)', [queue]);
  const r = await db.query<{ t: bigint | null }>('select pgq.ticker($1) as t', [queue]);
  const id = r.rows[0]?.t;
  if (id == null) throw new Error(`ticker did not tick queue ${queue}`);
  return id;
}

export interface Ev {
  ev_id: bigint;
  ev_type: string;
  ev_data: string;
  ev_retry: number | null;
  ev_txid: bigint;
  ev_extra1: string | null;
  ev_extra2: string | null;
  ev_extra3: string | null;
  ev_extra4: string | null;
}

/** Opens the next batch; returns its id and events, or null when there is none. */
export async function nextBatch(
  db: Q,
  queue: string,
  consumer: string,
): Promise<{ id: bigint; events: Ev[] } | null> {
  const r = await db.query<{ b: bigint | null }>('select pgq.next_batch($1, $2) as b', [queue, consumer]);
  const id = r.rows[0]?.b;
  if (id == null) return null;
  const ev = await db.query<Ev>('select * from pgq.get_batch_events($1)', [id]);
  return { id, events: ev.rows };
}

/** Reads and finishes every available batch; returns the ev_data of all events in order. */
export async function drain(db: Q, queue: string, consumer: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const b = await nextBatch(db, queue, consumer);
    if (!b) return out;
    out.push(...b.events.map((e) => e.ev_data));
    await db.query('select pgq.finish_batch($1)', [b.id]);
  }
}

/** PostgreSQL error of a promise, for asserting messages and SQLSTATEs. */
export async function pgError(p: Promise<unknown>): Promise<{ message: string; code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { message: string; code?: string };
  }
  throw new Error('expected the query to fail, it succeeded');
}
