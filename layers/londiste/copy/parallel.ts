// A parallel copy of one table: N COPY streams, one per key range (ranges.ts), all reading the
// provider under one snapshot and each writing into the subscriber in its own transaction.
//
// Provider: the caller's REPEATABLE READ transaction exports its snapshot (pg_export_snapshot);
// stream 0 reads on that connection, the others open REPEATABLE READ transactions that import it
// (SET TRANSACTION SNAPSHOT), so every stream sees exactly the rows of the one snapshot whose
// txid_current_snapshot() the caller stores for catching-up. The exporting transaction stays open
// until the caller reads that snapshot after this returns.
//
// Subscriber: one transaction per stream, committed when its stream is done. They cannot take
// COPY FREEZE (which needs the TRUNCATE in the same transaction, and a TRUNCATE's lock would block
// the other streams): the caller empties the table in a committed transaction first and keeps
// the table in-copy until every stream is in, so a crash in between makes the next copy start
// over. Each stream's subscriber transaction runs as replica (the table's deny trigger stays quiet).
//
// Any stream's failure (or the signal) ends the others: their COPYs are cut (pipe.ts), every
// transaction rolled back, every extra connection closed; the caller gets the first error.
import type pg from 'pg';
import type { Logger } from '../../util/log.ts';
import { LondisteError } from '../errors.ts';
import { copyTable } from './pipe.ts';
import { type CopyEstimate, ProgressMeter } from './progress.ts';

export interface ParallelCopyOptions {
  srcTable: string;
  dstTable: string;
  columns: readonly string[];
  /** One condition per stream (each already including the handler's copy condition). */
  conditions: readonly string[];
  format: 'text' | 'binary';
  /** Opens another provider connection (stream 1…N-1 import the snapshot on it). */
  connectProvider: () => Promise<pg.Client>;
  /** Opens another subscriber connection (one per stream). */
  connectLocal: () => Promise<pg.Client>;
  estimate?: CopyEstimate | null;
  logger?: Logger;
  /** How often the summed progress is logged (default 5000 ms). */
  progressIntervalMs?: number;
  signal?: AbortSignal;
  /** Called after a stream's subscriber transaction committed (test hook: kill -9 midway). */
  onStreamCommitted?: (stream: number) => void | Promise<void>;
}

export interface StreamResult {
  stream: number;
  condition: string;
  rows: number;
  bytes: number;
  durationMs: number;
  rowsPerSec: number;
}

export interface ParallelCopyResult {
  rows: number;
  bytes: number;
  durationMs: number;
  streams: StreamResult[];
}

/** Runs the streams; `provider` must be in the caller's REPEATABLE READ transaction. */
export async function parallelCopy(provider: pg.Client, o: ParallelCopyOptions): Promise<ParallelCopyResult> {
  const n = o.conditions.length;
  const started = performance.now();
  const snap = (await provider.query<{ id: string }>('select pg_export_snapshot() as id')).rows[0]?.id;
  if (!snap) throw new LondisteError('copy_failed', `copy of ${o.srcTable}: no snapshot exported`);
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  const opened: pg.Client[] = [];
  const total = new ProgressMeter({ table: o.dstTable, estimate: o.estimate ?? null });
  const perStream = Array.from({ length: n }, () => ({ rows: 0, bytes: 0, rate: 0 }));
  const interval = o.progressIntervalMs ?? 5000;
  const ticker = o.logger
    ? setInterval(() => {
        const p = total.snapshot();
        o.logger?.info('copy progress', {
          table: o.dstTable,
          streams: n,
          rows: p.rows,
          bytes: p.bytes,
          rate: `${Math.round(p.rowsPerSec)} rows/s`,
          streamRates: perStream.map((s) => `${Math.round(s.rate)} rows/s`).join(', '),
          ...(p.fraction == null ? {} : { percent: Math.round(p.fraction * 1000) / 10 }),
          ...(p.etaMs == null ? {} : { eta: `${Math.ceil(p.etaMs / 1000)}s` }),
        });
      }, interval)
    : null;
  ticker?.unref();

  const runStream = async (i: number): Promise<StreamResult> => {
    const condition = o.conditions[i] as string;
    const src = i === 0 ? provider : await open(o.connectProvider, opened);
    if (i > 0) {
      await src.query('begin isolation level repeatable read read only');
      await src.query(`set transaction snapshot '${snap.replaceAll("'", "''")}'`);
    }
    const dst = await open(o.connectLocal, opened);
    await dst.query('begin');
    try {
      await dst.query("select londiste.set_session_replication_role('replica', true)");
      const res = await copyTable(src, dst, {
        srcTable: o.srcTable,
        dstTable: o.dstTable,
        columns: o.columns,
        condition: condition || undefined,
        format: o.format,
        estimate: o.estimate?.rows ? { ...o.estimate, rows: o.estimate.rows / n } : null,
        progressIntervalMs: 1000,
        onProgress: (p) => {
          const s = perStream[i] as { rows: number; bytes: number; rate: number };
          total.add(p.rows - s.rows, p.bytes - s.bytes);
          s.rows = p.rows;
          s.bytes = p.bytes;
          s.rate = p.rowsPerSec;
        },
        signal,
      });
      await dst.query('commit');
      if (i > 0) await src.query('commit');
      const r: StreamResult = {
        stream: i,
        condition,
        rows: res.rows,
        bytes: res.bytes,
        durationMs: res.durationMs,
        rowsPerSec: res.durationMs > 0 ? (res.rows * 1000) / res.durationMs : 0,
      };
      o.logger?.info('copy stream finished', {
        table: o.dstTable,
        stream: i,
        rows: r.rows,
        bytes: r.bytes,
        seconds: Math.round(r.durationMs) / 1000,
        rate: `${Math.round(r.rowsPerSec)} rows/s`,
      });
      await o.onStreamCommitted?.(i);
      return r;
    } catch (err) {
      await dst.query('rollback').catch(() => {});
      if (i > 0) await src.query('rollback').catch(() => {});
      throw err;
    }
  };

  try {
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, i) =>
        runStream(i).catch((err) => {
          // One stream down: the others stop too (their COPYs are cut, not left to finish).
          stop.abort(err);
          throw err;
        }),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const streams = results.map((r) => (r as PromiseFulfilledResult<StreamResult>).value);
    const rows = streams.reduce((a, s) => a + s.rows, 0);
    const bytes = streams.reduce((a, s) => a + s.bytes, 0);
    const durationMs = performance.now() - started;
    total.finish(rows);
    o.logger?.info('copy finished', {
      table: o.dstTable,
      streams: n,
      rows,
      bytes,
      seconds: Math.round(durationMs) / 1000,
      rate: `${Math.round((rows * 1000) / Math.max(1, durationMs))} rows/s`,
      streamRates: streams.map((s) => `${Math.round(s.rowsPerSec)} rows/s`).join(', '),
    });
    return { rows, bytes, durationMs, streams };
  } finally {
    if (ticker) clearInterval(ticker);
    await Promise.all(opened.map((c) => c.end().catch(() => {})));
  }
}

async function open(connect: () => Promise<pg.Client>, opened: pg.Client[]): Promise<pg.Client> {
  const c = await connect();
  opened.push(c);
  return c;
}
