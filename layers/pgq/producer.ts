// Producers: put events into a queue inside the caller's transaction. The event becomes
// visible to consumers only when that transaction commits (and a tick follows).
import { toBigInt } from '../db/connection.ts';
import type { Queryable } from '../db/transaction.ts';
import type { PgqEvent } from './consumer.ts';
import { asPgqError } from './errors.ts';

export interface NewEvent {
  type: string;
  data: string;
  extra1?: string | null;
  extra2?: string | null;
  extra3?: string | null;
  extra4?: string | null;
}

/** Inserts one event; returns its id. Works on our SQL and on the C extension. */
export async function insertEvent(
  client: Queryable,
  queue: string,
  type: string,
  data: string,
  extra: Pick<NewEvent, 'extra1' | 'extra2' | 'extra3' | 'extra4'> = {},
): Promise<bigint> {
  try {
    const r = await client.query<{ id: bigint }>(
      'select pgq.insert_event($1, $2, $3, $4, $5, $6, $7) as id',
      [
        queue,
        type,
        data,
        extra.extra1 ?? null,
        extra.extra2 ?? null,
        extra.extra3 ?? null,
        extra.extra4 ?? null,
      ],
    );
    return toBigInt(r.rows[0]!.id);
  } catch (err) {
    throw asPgqError(err, `insert_event into queue "${queue}"`);
  }
}

// Whether a client's database has pgq.insert_event_bulk (ours) or not (the C extension);
// looked up once per client object. (Trying the call and catching "undefined function" would
// abort the caller's transaction.)
const hasBulk = new WeakMap<object, boolean>();

async function bulkAvailable(client: Queryable): Promise<boolean> {
  let known = hasBulk.get(client);
  if (known === undefined) {
    const r = await client.query<{ ok: boolean }>(
      "select to_regprocedure('pgq.insert_event_bulk(text,text[],text[],text[],text[],text[],text[])') is not null as ok",
    );
    known = r.rows[0]!.ok;
    hasBulk.set(client, known);
  }
  return known;
}

/**
 * Inserts many events with one round trip, in order; returns how many. Uses our
 * pgq.insert_event_bulk; against the C extension it falls back to one statement calling
 * pgq.insert_event per row (still one round trip).
 */
export async function insertEvents(
  client: Queryable,
  queue: string,
  events: readonly NewEvent[],
): Promise<number> {
  if (events.length === 0) return 0;
  const col = (k: keyof NewEvent) => events.map((e) => (e[k] as string | null | undefined) ?? null);
  const params = [
    queue,
    col('type'),
    col('data'),
    col('extra1'),
    col('extra2'),
    col('extra3'),
    col('extra4'),
  ];
  try {
    if (await bulkAvailable(client)) {
      const r = await client.query<{ n: bigint }>(
        'select pgq.insert_event_bulk($1, $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) as n',
        params,
      );
      return Number(r.rows[0]!.n);
    }
    const r = await client.query(
      `select pgq.insert_event($1, u.t, u.d, u.x1, u.x2, u.x3, u.x4)
         from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
              with ordinality as u(t, d, x1, x2, x3, x4, ord)
        order by u.ord`,
      params,
    );
    return r.rowCount ?? events.length;
  } catch (err) {
    throw asPgqError(err, `insert_event_bulk into queue "${queue}"`);
  }
}

/**
 * Puts events read from a batch into `queue` with one statement, in order, each keeping its time
 * and — with `keepIds` (a branch copying its provider's events) — its id; otherwise they get new
 * ids from the queue (events of several queues merged into one). pgq.insert_event_raw, so it works
 * on our SQL and on the C extension. Errors pass through (the caller's transaction decides).
 */
export async function requeueEvents(
  client: Queryable,
  queue: string,
  events: readonly PgqEvent[],
  opts: { keepIds?: boolean } = {},
): Promise<void> {
  if (events.length === 0) return;
  const col = <K extends keyof PgqEvent>(k: K) => events.map((e) => e[k]);
  const ids = opts.keepIds ? events.map((e) => String(e.id)) : null;
  await client.query(
    `select pgq.insert_event_raw($1, u.id, u.t, null, null, u.ty, u.d, u.x1, u.x2, u.x3, u.x4)
       from unnest($2::int8[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::text[], $9::text[]) with ordinality as u(id, t, ty, d, x1, x2, x3, x4, ord)
      order by u.ord`,
    [
      queue,
      ids ?? events.map(() => null),
      col('time'),
      col('type'),
      col('data'),
      col('extra1'),
      col('extra2'),
      col('extra3'),
      col('extra4'),
    ],
  );
}
