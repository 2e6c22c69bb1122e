// Consumers: read a batch, let a handler tag each event done or retry, finish the batch — all in
// one transaction on the queue's database, so a consumer that dies mid-batch leaves nothing half
// done and gets the same events again (at-least-once per batch; exactly-once for effects the
// handler writes through the same client).
import type pg from 'pg';
import { toBigInt } from '../db/connection.ts';
import { quoteLiteral } from '../db/ident.ts';
import { asPgqError, PgqError } from './errors.ts';
import { WAITING_CHANNEL } from './tick-notify.ts';

export interface PgqEvent {
  id: bigint;
  time: Date;
  txid: bigint | null;
  /** How many times the event was retried before (null: never). */
  retry: number | null;
  type: string | null;
  data: string | null;
  extra1: string | null;
  extra2: string | null;
  extra3: string | null;
  extra4: string | null;
}

export type EventTag = { kind: 'untagged' } | { kind: 'done' } | { kind: 'retry'; after: number | Date };

export interface BatchInfo {
  batchId: bigint;
  queue: string;
  consumer: string;
  tickId: bigint;
  prevTickId: bigint;
  tickTime: Date;
  prevTickTime: Date;
  /** Upper bound of the number of events in the batch (event sequence distance). */
  eventSeqSpan: bigint;
}

// Events arrive as raw text (rowMode 'array', no type parsing) and are parsed on first access:
// a consumer that only looks at type and data does not pay for BigInt and Date parsing.
const RAW_TEXT: pg.CustomTypesConfig = {
  getTypeParser: () => (v: string) => v,
} as unknown as pg.CustomTypesConfig;
const DONE: EventTag = { kind: 'done' };
const UNTAGGED: EventTag = { kind: 'untagged' };

/** Column order of pgq.batch_event_sql / get_batch_events / get_batch_cursor rows. */
type RawEventRow = [
  id: string,
  time: string,
  txid: string | null,
  retry: string | null,
  type: string | null,
  data: string | null,
  extra1: string | null,
  extra2: string | null,
  extra3: string | null,
  extra4: string | null,
];

export class BatchEvent implements PgqEvent {
  readonly #row: RawEventRow;
  #id: bigint | undefined;
  #time: Date | undefined;
  #tag: EventTag = UNTAGGED;
  readonly #tally: TagTally;

  constructor(row: RawEventRow, tally: TagTally) {
    this.#row = row;
    this.#tally = tally;
    tally.untagged++;
  }

  get id(): bigint {
    this.#id ??= BigInt(this.#row[0]);
    return this.#id;
  }
  get time(): Date {
    this.#time ??= parseTimestamptz(this.#row[1]);
    return this.#time;
  }
  get txid(): bigint | null {
    return this.#row[2] == null ? null : BigInt(this.#row[2]);
  }
  get retry(): number | null {
    return this.#row[3] == null ? null : Number(this.#row[3]);
  }
  get type(): string | null {
    return this.#row[4];
  }
  get data(): string | null {
    return this.#row[5];
  }
  get extra1(): string | null {
    return this.#row[6];
  }
  get extra2(): string | null {
    return this.#row[7];
  }
  get extra3(): string | null {
    return this.#row[8];
  }
  get extra4(): string | null {
    return this.#row[9];
  }

  toJSON(): Record<string, unknown> {
    return {
      id: this.id.toString(),
      time: this.time.toISOString(),
      txid: this.txid?.toString() ?? null,
      retry: this.retry,
      type: this.type,
      data: this.data,
      extra1: this.extra1,
      extra2: this.extra2,
      extra3: this.extra3,
      extra4: this.extra4,
    };
  }

  get tag(): EventTag {
    return this.#tag;
  }

  tagDone(): void {
    this.#retag(DONE);
  }

  /** Sends the event back to this consumer after `after` seconds (default 60) or at a time. */
  tagRetry(after: number | Date = 60): void {
    if (typeof after === 'number' && !(after >= 0)) {
      throw new PgqError('invalid_argument', `retry delay must be a number of seconds ≥ 0, got ${after}`);
    }
    this.#retag({ kind: 'retry', after });
  }

  #retag(tag: EventTag) {
    if (this.#tag.kind === 'untagged') this.#tally.untagged--;
    if (this.#tag.kind === 'retry') this.#tally.retries.delete(this.id);
    this.#tag = tag;
    if (tag.kind === 'retry') this.#tally.retries.set(this.id, tag.after);
  }
}

interface TagTally {
  untagged: number;
  retries: Map<bigint, number | Date>;
}

export interface Batch extends BatchInfo {
  /** Events of the batch in id order (empty in lazy mode: iterate the batch instead). */
  events: BatchEvent[];
  /** Iterates the events; in lazy mode fetches them in chunks through a cursor. */
  [Symbol.asyncIterator](): AsyncIterator<BatchEvent>;
}

/** Called with each batch inside its transaction; `client` is that transaction's connection. */
export type BatchHandler = (batch: Batch, client: pg.ClientBase) => Promise<void>;

export interface BatchOptions {
  queue: string;
  consumer: string;
  handler: BatchHandler;
  /** Fetch events through a cursor this many at a time (0 / undefined: all at once). */
  lazyFetch?: number;
  /** next_batch_custom knobs: wait for this many events / this long a batch / ticks this old. */
  minCount?: number;
  minIntervalMs?: number;
  minLagMs?: number;
  /** What untagged events mean after the handler returns: an error (default) or done. */
  untagged?: 'error' | 'done';
  /**
   * Runs after every event is tagged and retries are recorded, right before finish_batch, in
   * the batch's transaction; throwing rolls the batch back. Remote consumers commit the target
   * database here.
   */
  beforeFinish?: (batch: BatchInfo, result: BatchResult, client: pg.ClientBase) => Promise<void>;
}

export interface BatchResult {
  batchId: bigint;
  events: number;
  retried: number;
  tickId: bigint;
}

/** Milliseconds → an interval literal for next_batch_custom's knobs (null stays null). */
export const msInterval = (ms: number | undefined) => (ms == null ? null : `${ms / 1000} seconds`);

/**
 * pgq.next_batch_custom for the consumer: its next (or still open) batch and the ticks that
 * bound it, or null when none is ready. Runs in the caller's transaction.
 */
export async function openNextBatch(
  client: pg.ClientBase,
  opts: Pick<BatchOptions, 'queue' | 'consumer' | 'minLagMs' | 'minCount' | 'minIntervalMs'>,
): Promise<BatchInfo | null> {
  let row: Record<string, unknown> | undefined;
  try {
    const r = await client.query(
      'select * from pgq.next_batch_custom($1, $2, $3::interval, $4::int4, $5::interval)',
      [
        opts.queue,
        opts.consumer,
        msInterval(opts.minLagMs),
        opts.minCount ?? null,
        msInterval(opts.minIntervalMs),
      ],
    );
    row = r.rows[0];
  } catch (err) {
    throw asPgqError(err, `next_batch for ${opts.queue}/${opts.consumer}`);
  }
  if (!row || row.batch_id == null) return null;
  return batchInfoFromRow(row, opts.queue, opts.consumer);
}

/** A next_batch_custom-shaped row (pgq's, or pgq_coop's) as a BatchInfo. */
export function batchInfoFromRow(row: Record<string, unknown>, queue: string, consumer: string): BatchInfo {
  return {
    batchId: toBigInt(row.batch_id),
    queue,
    consumer,
    tickId: toBigInt(row.cur_tick_id),
    prevTickId: toBigInt(row.prev_tick_id),
    tickTime: row.cur_tick_time as Date,
    prevTickTime: row.prev_tick_time as Date,
    eventSeqSpan: toBigInt(row.cur_tick_event_seq) - toBigInt(row.prev_tick_event_seq),
  };
}

/**
 * Processes the consumer's next batch, if any, in one transaction on `client`.
 * Returns null when no batch is ready. Throws (after rolling back) when the handler throws or
 * leaves events untagged; the same batch is then handed out again next time.
 *
 * Two round trips for a batch of up to INLINE_SPAN events (BEGIN + next_batch + its events; finish_batch
 * + the ticker's wake-up + COMMIT), three for a bigger one (its events are read by the batch's own SQL)
 * and two when there is none, instead of six and three: on the latency path from a tick to the
 * handler each round trip counts. Statements sent together go by the simple protocol, so their
 * values are inlined as literals.
 */
export async function processNextBatch(
  client: pg.ClientBase,
  opts: BatchOptions,
): Promise<BatchResult | null> {
  let opened: OpenedBatch | null;
  try {
    opened = await beginNextBatch(client, opts);
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  }
  try {
    if (!opened) {
      await client.query('commit');
      return null;
    }
    const { base } = opened;
    const result = await runBatch(client, opts, opened);
    // With the batch finished the consumer waits for the next tick: say so to the ticker
    // (WAITING_CHANNEL), delivered at this commit, in the same round trip.
    await client.query(
      `select pgq.finish_batch(${base.batchId}), pg_notify('${WAITING_CHANNEL}', ${quoteLiteral(opts.queue)}); commit`,
    );
    return result;
  } catch (err) {
    // Also after a failed COMMIT (then there is no transaction left and this only warns).
    await client.query('rollback').catch(() => {});
    throw err;
  }
}

/**
 * Batches whose event sequence span (an upper bound of their size) is at most this come with
 * their events in the round trip that opens them: what a consumer keeping up with its queue sees.
 * Bigger ones are read by their own SQL (no copy through a set-returning function's tuple store).
 */
export const INLINE_SPAN = 1000;

/** An open batch, with its events when they came along (small batches), else the SQL that reads them. */
type OpenedBatch =
  | { base: BatchInfo; sql: string; rows: null }
  | { base: BatchInfo; sql: null; rows: RawEventRow[] };

/** Columns of the opening statement before the event's (RawEventRow) columns. */
const OPEN_COLUMNS = 9;

/**
 * BEGIN, then pgq.next_batch_custom and, when a batch is open, its events (a small batch:
 * pgq.get_batch_events, in the same statement) or pgq.batch_event_sql — one round trip. The
 * transaction stays open (the caller commits or rolls back). Rows come as raw text: a small
 * batch's rows are its events, the batch's columns repeated in front.
 */
async function beginNextBatch(client: pg.ClientBase, opts: BatchOptions): Promise<OpenedBatch | null> {
  const lit = (v: string | undefined | null) => (v == null ? 'null' : quoteLiteral(v));
  const minCount = opts.minCount == null ? 'null' : String(Math.trunc(Number(opts.minCount)));
  // A lazily fetched batch is read through a cursor whatever its size.
  const inlineSpan = opts.lazyFetch && opts.lazyFetch > 0 ? -1 : INLINE_SPAN;
  let rows: string[][];
  try {
    // The WHERE of the lateral subquery refers to the outer row only, and OFFSET 0 keeps the
    // planner from pulling it up into the join's condition: a one-time filter, so a big batch's
    // (or no batch's) get_batch_events is never run.
    const r = (await client.query({
      text: `begin; select b.batch_id, b.cur_tick_id, b.prev_tick_id, b.cur_tick_time, b.prev_tick_time,
                    b.cur_tick_event_seq, b.prev_tick_event_seq, x.small,
                    case when b.batch_id is not null and not x.small then pgq.batch_event_sql(b.batch_id) end,
                    e.*
         from pgq.next_batch_custom(${lit(opts.queue)}, ${lit(opts.consumer)}, ${lit(msInterval(opts.minLagMs))}::interval,
                                    ${minCount}::int4, ${lit(msInterval(opts.minIntervalMs))}::interval) b
         cross join lateral (select b.cur_tick_event_seq - b.prev_tick_event_seq <= ${inlineSpan} as small) x
         left join lateral (select * from pgq.get_batch_events(b.batch_id) where b.batch_id is not null and x.small offset 0) e on true`,
      rowMode: 'array',
      types: RAW_TEXT,
    })) as unknown as pg.QueryResult<string[]>[];
    rows = r[1]!.rows;
  } catch (err) {
    throw asPgqError(err, `next_batch for ${opts.queue}/${opts.consumer}`);
  }
  const row = rows[0];
  if (!row || row[0] == null) return null;
  const base: BatchInfo = {
    batchId: BigInt(row[0]),
    queue: opts.queue,
    consumer: opts.consumer,
    tickId: BigInt(row[1]!),
    prevTickId: BigInt(row[2]!),
    tickTime: parseTimestamptz(row[3]!),
    prevTickTime: parseTimestamptz(row[4]!),
    eventSeqSpan: BigInt(row[5]!) - BigInt(row[6]!),
  };
  if (row[7] !== 't') return { base, sql: row[8]!, rows: null };
  // An empty small batch is one row without an event.
  const events = row[OPEN_COLUMNS] == null ? [] : rows.map((r) => r.slice(OPEN_COLUMNS) as RawEventRow);
  return { base, sql: null, rows: events };
}

/** The batch's events, the handler, the retries and beforeFinish: everything up to finish_batch. */
async function runBatch(
  client: pg.ClientBase,
  opts: BatchOptions,
  opened: OpenedBatch,
): Promise<BatchResult> {
  const { base, sql } = opened;
  const batchId = base.batchId;
  const tally: TagTally = { untagged: 0, retries: new Map() };
  let count = 0;
  let batch: Batch;
  let lazy: LazyBatch | null = null;
  if (sql != null && opts.lazyFetch && opts.lazyFetch > 0) {
    lazy = lazyBatch(client, base, sql, opts.lazyFetch, tally, () => count++);
    batch = lazy.batch;
  } else {
    // A big batch's SELECT runs directly (instead of through get_batch_events): no materializing
    // of its rows in a PL/pgSQL function; both give the same rows.
    const rows =
      opened.rows ??
      (await client.query<RawEventRow>({ text: sql!, rowMode: 'array', types: RAW_TEXT })).rows;
    const events = rows.map((row) => new BatchEvent(row, tally));
    count = events.length;
    batch = {
      ...base,
      events,
      async *[Symbol.asyncIterator]() {
        yield* events;
      },
    };
  }
  await opts.handler(batch, client);
  await lazy?.drainRest();
  if (tally.untagged > 0) {
    if (opts.untagged === 'done') {
      tally.untagged = 0;
    } else {
      throw new PgqError(
        'untagged_events',
        `batch ${batchId} of ${opts.queue}/${opts.consumer}: ${tally.untagged} event(s) left untagged; ` +
          'call tagDone() or tagRetry() on every event (or set untagged: "done")',
      );
    }
  }
  for (const [evId, after] of tally.retries) {
    if (after instanceof Date) {
      await client.query('select pgq.event_retry($1, $2, $3::timestamptz)', [batchId, evId, after]);
    } else {
      await client.query('select pgq.event_retry($1, $2, $3::integer)', [batchId, evId, Math.round(after)]);
    }
  }
  const result: BatchResult = { batchId, events: count, retried: tally.retries.size, tickId: base.tickId };
  await opts.beforeFinish?.(base, result, client);
  return result;
}

interface LazyBatch {
  batch: Batch;
  /** Reads (as untagged) whatever the handler did not iterate, so nothing is skipped silently. */
  drainRest(): Promise<void>;
}

function lazyBatch(
  client: pg.ClientBase,
  base: BatchInfo,
  sql: string,
  fetchSize: number,
  tally: TagTally,
  counted: () => void,
): LazyBatch {
  const cursor = `pgq_batch_${base.batchId}`;
  let gen: AsyncGenerator<BatchEvent> | null = null;
  let exhausted = false;
  async function* read(): AsyncGenerator<BatchEvent> {
    await client.query(`declare ${cursor} no scroll cursor for ${sql}`);
    try {
      for (;;) {
        const rows = (
          await client.query<RawEventRow>({
            text: `fetch ${fetchSize} from ${cursor}`,
            rowMode: 'array',
            types: RAW_TEXT,
          })
        ).rows;
        for (const row of rows) {
          counted();
          yield new BatchEvent(row, tally);
        }
        if (rows.length < fetchSize) break;
      }
      exhausted = true;
    } finally {
      await client.query(`close ${cursor}`);
    }
  }
  const batch: Batch = {
    ...base,
    events: [],
    [Symbol.asyncIterator]() {
      if (gen) throw new PgqError('invalid_argument', 'a lazily fetched batch can be iterated only once');
      gen = read();
      return gen;
    },
  };
  return {
    batch,
    async drainRest() {
      if (exhausted) return;
      // A handler that stopped early left the generator suspended (or never started it).
      const rest = gen && !exhausted ? null : read();
      if (rest) {
        for await (const _ of rest) {
          // counted as untagged by BatchEvent's constructor
        }
        return;
      }
      throw new PgqError(
        'untagged_events',
        `batch ${base.batchId}: the handler stopped reading the lazily fetched events before the end`,
      );
    },
  };
}

/** PostgreSQL timestamptz text (ISO style, as the server sends it) → Date. */
export function parseTimestamptz(text: string): Date {
  // e.g. "2026-11-27 21:06:49.546072+00" or "…+05:30"; Date wants "T" and a full offset.
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(?::?(\d\d))?(?::\d\d)?$/.exec(text);
  if (!m) return new Date(text);
  return new Date(`${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}`);
}

export async function registerConsumer(
  client: pg.ClientBase,
  queue: string,
  consumer: string,
): Promise<boolean> {
  try {
    const r = await client.query<{ r: number }>('select pgq.register_consumer($1, $2) as r', [
      queue,
      consumer,
    ]);
    return r.rows[0]!.r === 1;
  } catch (err) {
    throw asPgqError(err, `register consumer "${consumer}" on queue "${queue}"`);
  }
}

export async function unregisterConsumer(
  client: pg.ClientBase,
  queue: string,
  consumer: string,
): Promise<boolean> {
  const r = await client.query<{ r: number }>('select pgq.unregister_consumer($1, $2) as r', [
    queue,
    consumer,
  ]);
  return r.rows[0]!.r > 0;
}
