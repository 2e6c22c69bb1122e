// Progress of one table copy: rows and bytes so far, rate, and an ETA against the provider's own
// estimate of the table (pg_class.reltuples, pg_relation_size — free to read, unlike count(*)).
// Reported every few seconds to the log and to a callback; the copy job passes it on to status.
import type { Queryable } from '../../db/index.ts';
import { quoteFqname } from '../../db/index.ts';
import type { Logger } from '../../util/log.ts';

export interface CopyEstimate {
  /** reltuples: null when the table was never vacuumed or analyzed (PostgreSQL says -1). */
  rows: number | null;
  /** pg_relation_size of the heap (the COPY stream is usually smaller or larger; not for ETA). */
  relationBytes: number;
}

export interface CopyProgress {
  table: string;
  rows: number;
  bytes: number;
  elapsedMs: number;
  rowsPerSec: number;
  bytesPerSec: number;
  /** The provider's estimate of the rows to copy (null when unknown). */
  estimatedRows: number | null;
  /** rows / estimatedRows capped at 1 (null when unknown). */
  fraction: number | null;
  /** Estimated time left at the current rate (null when unknown). */
  etaMs: number | null;
  done: boolean;
}

/** The provider's estimate of a table's size (reltuples is maintained by VACUUM / ANALYZE). */
export async function estimateTable(client: Queryable, table: string): Promise<CopyEstimate> {
  const r = await client.query<{ reltuples: number; bytes: string | bigint | number }>(
    `select c.reltuples::float8 as reltuples, pg_relation_size(c.oid) as bytes
       from pg_class c where c.oid = to_regclass($1)`,
    [quoteFqname(table)],
  );
  const row = r.rows[0];
  if (!row) return { rows: null, relationBytes: 0 };
  return { rows: row.reltuples >= 0 ? row.reltuples : null, relationBytes: Number(row.bytes) };
}

export interface ProgressMeterOptions {
  table: string;
  estimate?: CopyEstimate | null;
  /** Log a line at info level every intervalMs (none when omitted). */
  logger?: Logger;
  onProgress?: (p: CopyProgress) => void;
  /** How often to report (default 5000 ms; 0 = on every update). */
  intervalMs?: number;
  now?: () => number;
}

/** Accumulates counts and reports at most once per interval, plus once at the end. */
export class ProgressMeter {
  rows = 0;
  bytes = 0;
  private readonly started: number;
  private lastReport: number;
  private readonly interval: number;
  private readonly now: () => number;
  private readonly opts: ProgressMeterOptions;

  constructor(opts: ProgressMeterOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.lastReport = this.started;
    this.interval = opts.intervalMs ?? 5000;
  }

  /** Adds counts; reports when the interval has passed. */
  add(rows: number, bytes: number): void {
    this.rows += rows;
    this.bytes += bytes;
    if (!this.opts.logger && !this.opts.onProgress) return;
    const t = this.now();
    if (t - this.lastReport >= this.interval) {
      this.lastReport = t;
      this.report(this.snapshot(t, false));
    }
  }

  /** The final report, with the rows the destination counted. */
  finish(rows?: number): CopyProgress {
    if (rows !== undefined) this.rows = rows;
    const p = this.snapshot(this.now(), true);
    this.report(p);
    return p;
  }

  snapshot(t = this.now(), done = false): CopyProgress {
    const elapsedMs = Math.max(0, t - this.started);
    // Rows within the first millisecond (a fast pipe's first chunk) still give a rate and an ETA.
    const secs = (this.rows > 0 ? Math.max(elapsedMs, 1) : elapsedMs) / 1000;
    const rowsPerSec = secs > 0 ? this.rows / secs : 0;
    const bytesPerSec = secs > 0 ? this.bytes / secs : 0;
    const est = this.opts.estimate?.rows ?? null;
    const estimatedRows = est && est > 0 ? Math.round(est) : null;
    const fraction = done ? 1 : estimatedRows ? Math.min(1, this.rows / estimatedRows) : null;
    let etaMs: number | null = null;
    if (done) etaMs = 0;
    else if (estimatedRows && rowsPerSec > 0)
      etaMs = (Math.max(0, estimatedRows - this.rows) / rowsPerSec) * 1000;
    return {
      table: this.opts.table,
      rows: this.rows,
      bytes: this.bytes,
      elapsedMs,
      rowsPerSec,
      bytesPerSec,
      estimatedRows,
      fraction,
      etaMs,
      done,
    };
  }

  private report(p: CopyProgress): void {
    this.opts.onProgress?.(p);
    this.opts.logger?.info(p.done ? 'copy finished' : 'copy progress', {
      table: p.table,
      rows: p.rows,
      bytes: p.bytes,
      rate: `${Math.round(p.rowsPerSec)} rows/s`,
      ...(p.fraction == null || p.done ? {} : { percent: Math.round(p.fraction * 1000) / 10 }),
      ...(p.etaMs == null || p.done ? {} : { eta: `${Math.ceil(p.etaMs / 1000)}s` }),
      ...(p.done ? { seconds: Math.round(p.elapsedMs) / 1000 } : {}),
    });
  }
}

export interface RunningCopy {
  /** The subscriber table as copyApplicationName() gave it (cut at 63 bytes for long names). */
  table: string;
  pid: number;
  /** pg_stat_progress_copy: rows and bytes the subscriber's COPY FROM has taken so far. */
  tuples: number;
  bytes: number;
  startedAt: Date | null;
}

/**
 * The table copies running into this (subscriber) database, as status shows them: the COPY FROM
 * rows of pg_stat_progress_copy whose connection carries copyApplicationName(table).
 */
export async function readRunningCopies(client: Queryable): Promise<RunningCopy[]> {
  const r = await client.query<{
    application_name: string;
    pid: number;
    tuples: string | number | bigint;
    bytes: string | number | bigint;
    query_start: Date | null;
  }>(
    `select a.application_name, p.pid, p.tuples_processed as tuples, p.bytes_processed as bytes, a.query_start
       from pg_stat_progress_copy p join pg_stat_activity a on a.pid = p.pid
      where p.datid = (select oid from pg_database where datname = current_database())
        and p.command = 'COPY FROM' and a.application_name like 'londiste copy %'
      order by a.application_name`,
  );
  return r.rows.map((x) => ({
    table: x.application_name.slice(COPY_APPLICATION_PREFIX.length),
    pid: x.pid,
    tuples: Number(x.tuples),
    bytes: Number(x.bytes),
    startedAt: x.query_start,
  }));
}

/** What copyApplicationName() puts before the table name. */
export const COPY_APPLICATION_PREFIX = 'londiste copy ';
