// Reading one batch's events from the provider in chunks, one chunk ahead of the caller: a cursor
// (pgq.get_batch_cursor: the original's API, so this also reads the C pgq) inside a transaction on
// the provider connection. While the local node writes chunk k, the provider sends chunk k+1 and
// this process parses it, instead of the whole batch crossing the wire before the first write.
// Rows arrive as raw text in array form; an event parses its id, time, txid and retry only when
// they are read (replay reads the time of no event).
import type pg from 'pg';
import type { PgqEvent } from '../pgq/consumer.ts';
import { parseTimestamptz } from '../pgq/consumer.ts';

/** Events per FETCH (and per chunk handed out). */
export const EVENT_CHUNK = 5000;

const CURSOR = 'cascade_batch_events';

// The first FETCH is small: the local node starts writing while the rest of the first full
// chunk is still on its way, instead of after a whole chunk was sent and decoded.
const FIRST_CHUNK = 1000;

// The batch query sorts every event of the batch before its first row; a catch-up batch of 100k
// events needs ~20 MB, which at the default work_mem (4 MB) is an external merge on disk.
const SORT_WORK_MEM = '64MB';

// Every column as the text the server sends: parsing happens in the getters, when needed.
const RAW_TEXT = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/** Column order of get_batch_cursor / batch_event_sql rows. */
type Row = (string | null)[];

/** A batch event over its raw row; the same fields as PgqEvent, parsed on first access. */
export class RawEvent implements PgqEvent {
  readonly #row: Row;
  #id: bigint | undefined;
  #time: Date | undefined;
  #txid: bigint | null | undefined;

  constructor(row: Row) {
    this.#row = row;
  }
  get id(): bigint {
    this.#id ??= BigInt(this.#row[0] as string);
    return this.#id;
  }
  get time(): Date {
    this.#time ??= parseTimestamptz(this.#row[1] as string);
    return this.#time;
  }
  get txid(): bigint | null {
    if (this.#txid === undefined) this.#txid = this.#row[2] == null ? null : BigInt(this.#row[2]);
    return this.#txid;
  }
  get retry(): number | null {
    return this.#row[3] == null ? null : Number(this.#row[3]);
  }
  get type(): string | null {
    return this.#row[4] ?? null;
  }
  get data(): string | null {
    return this.#row[5] ?? null;
  }
  get extra1(): string | null {
    return this.#row[6] ?? null;
  }
  get extra2(): string | null {
    return this.#row[7] ?? null;
  }
  get extra3(): string | null {
    return this.#row[8] ?? null;
  }
  get extra4(): string | null {
    return this.#row[9] ?? null;
  }
}

/**
 * The events of one open batch, read in chunks of `chunk` through a cursor in a transaction on
 * `provider` (nothing else may open a transaction there meanwhile). `next()` returns the next chunk
 * (null after the last) and has already asked for the one after it. `close()` ends the transaction
 * (commit: the cursor only read); after a failure `abort()` rolls it back. A `filter` is an SQL
 * condition on the event columns (the worker's eventFilter), trusted as that is.
 */
export class BatchEventReader {
  private readonly provider: pg.ClientBase;
  private readonly chunk: number;
  private pending: Promise<RawEvent[]> | null;
  /** Rows the pending read asked for: fewer back means the cursor is at its end. */
  private asked: number;
  private done = false;
  private open = true;

  /** `first`: the size of the first FETCH (at most `chunk`; see FIRST_CHUNK). */
  constructor(
    provider: pg.ClientBase,
    batchId: bigint,
    filter: string | null,
    chunk = EVENT_CHUNK,
    first = FIRST_CHUNK,
  ) {
    this.provider = provider;
    this.chunk = chunk;
    // begin and the cursor's first chunk go out now; the caller's other work overlaps them
    const begun = provider.query(`begin; set local work_mem = '${SORT_WORK_MEM}'`);
    begun.catch(() => {});
    this.asked = Math.max(1, Math.min(first, chunk));
    this.pending = this.rows(
      begun.then(() =>
        provider.query<Row>({
          text: 'select * from pgq.get_batch_cursor($1, $2, $3, $4)',
          values: [batchId, CURSOR, this.asked, filter],
          rowMode: 'array',
          types: RAW_TEXT,
        }),
      ),
    );
  }

  private rows(q: Promise<pg.QueryResult<Row>>): Promise<RawEvent[]> {
    const p = q.then((r) => r.rows.map((row) => new RawEvent(row)));
    p.catch(() => {}); // observed by next()
    return p;
  }

  /** The next chunk in id order, or null when every event has been returned. */
  async next(): Promise<RawEvent[] | null> {
    if (this.done || !this.pending) return null;
    const events = await this.pending;
    this.pending = null;
    if (events.length < this.asked) {
      this.done = true;
      await this.close();
    } else {
      this.asked = this.chunk;
      this.pending = this.rows(
        this.provider.query<Row>({
          text: `fetch ${this.chunk} from ${CURSOR}`,
          rowMode: 'array',
          types: RAW_TEXT,
        }),
      );
    }
    return events.length > 0 ? events : null;
  }

  /** Ends the cursor's transaction (reading nothing more). */
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.done = true;
    const p = this.pending;
    this.pending = null;
    await p?.catch(() => {});
    await this.provider.query('commit');
  }

  /** After a failure: rolls the transaction back (errors ignored: the connection may be gone). */
  async abort(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.done = true;
    const p = this.pending;
    this.pending = null;
    await p?.catch(() => {});
    await this.provider.query('rollback').catch(() => {});
  }
}
