// The table copy's data path: COPY … TO STDOUT on the provider streamed into COPY … FROM STDIN on
// the subscriber, through pipeline() so that backpressure holds (nothing is buffered beyond the
// streams' own high-water marks) and an error or an abort on either side ends both COPYs.
//
// Both connections' transactions belong to the caller: it opens REPEATABLE READ on the provider
// and reads txid_current_snapshot() there after the copy (the snapshot decides which events the
// catching-up phase applies), and commits or rolls back the subscriber. After a failure both
// connections are out of COPY mode, each in a failed transaction the caller rolls back.
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quoteFqname, quoteIdent } from '../../db/index.ts';
import type { Logger } from '../../util/log.ts';
import { LondisteError } from '../errors.ts';
import { sendCancelRequest } from './cancel.ts';
import { CopyOutFrames, passFramesThrough } from './frames.ts';
import {
  COPY_APPLICATION_PREFIX,
  type CopyEstimate,
  type CopyProgress,
  estimateTable,
  ProgressMeter,
} from './progress.ts';

export interface CopyTableOptions {
  /** Provider table ("schema.name"). */
  srcTable: string;
  /** Subscriber table ("schema.name"). */
  dstTable: string;
  /** Columns to copy, the same names on both sides (columns.ts: commonColumns().common). */
  columns: readonly string[];
  /** SQL condition on the provider rows (a handler's copy condition), spliced in as given. */
  condition?: string;
  /**
   * 'binary' only when columns.ts says binaryCompatible (identical built-in types); 'text'
   * otherwise (the default: it converts between types as COPY's text input does).
   */
  format?: 'text' | 'binary';
  /**
   * COPY … FREEZE: rows are written frozen (no hint-bit rewrite and no anti-wraparound vacuum
   * later). Allowed only when the caller created or truncated the table in the same
   * (sub)transaction; PostgreSQL refuses it otherwise.
   */
  freeze?: boolean;
  onProgress?: (p: CopyProgress) => void;
  /** Logs progress every progressIntervalMs at info level. */
  logger?: Logger;
  /** Default 5000 ms. */
  progressIntervalMs?: number;
  /** The provider's estimate for the ETA; read from the provider when omitted and progress is wanted. */
  estimate?: CopyEstimate | null;
  signal?: AbortSignal;
}

export interface CopyResult {
  /** Rows written, from the subscriber's COPY command tag. */
  rows: number;
  /** Bytes of COPY data that went through. */
  bytes: number;
  durationMs: number;
}

// PostgreSQL truncates application_name to NAMEDATALEN - 1 bytes.
const APPLICATION_NAME_BYTES = 63;

/**
 * The subscriber connection's application_name while it copies `table`: the admin's status finds
 * the copy's pg_stat_progress_copy row by it. At most 63 bytes (PostgreSQL's limit), cut on a
 * character boundary so both sides compute the same name.
 */
export function copyApplicationName(table: string): string {
  const name = `${COPY_APPLICATION_PREFIX}${table}`;
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length <= APPLICATION_NAME_BYTES) return name;
  let end = APPLICATION_NAME_BYTES;
  // Step back over UTF-8 continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** The two COPY statements of a copy (exported for the bench and for logs). */
export function copyStatements(
  opts: Pick<CopyTableOptions, 'srcTable' | 'dstTable' | 'columns' | 'condition' | 'format' | 'freeze'>,
): {
  out: string;
  in: string;
} {
  if (opts.columns.length === 0) {
    throw new LondisteError('usage', `copy of ${opts.srcTable}: no columns to copy (none in common?)`);
  }
  const cols = opts.columns.map(quoteIdent).join(', ');
  const binary = opts.format === 'binary';
  // Without a condition the plain form: it reads only that table's rows too, like ONLY.
  const source = opts.condition
    ? `(SELECT ${cols} FROM ONLY ${quoteFqname(opts.srcTable)} WHERE ${opts.condition})`
    : `${quoteFqname(opts.srcTable)} (${cols})`;
  const inOptions = [binary ? 'FORMAT binary' : '', opts.freeze ? 'FREEZE' : ''].filter(Boolean);
  return {
    out: `COPY ${source} TO STDOUT${binary ? ' (FORMAT binary)' : ''}`,
    in: `COPY ${quoteFqname(opts.dstTable)} (${cols}) FROM STDIN${inOptions.length ? ` (${inOptions.join(', ')})` : ''}`,
  };
}

/** Streams the provider table's rows into the subscriber table. */
export async function copyTable(
  src: pg.ClientBase,
  dst: pg.ClientBase,
  opts: CopyTableOptions,
): Promise<CopyResult> {
  const sql = copyStatements(opts);
  if (opts.signal?.aborted) {
    throw new LondisteError('copy_failed', `copy of ${opts.srcTable} → ${opts.dstTable} aborted`, {
      cause: opts.signal.reason,
    });
  }
  const started = performance.now();
  const wantProgress = !!(opts.onProgress || opts.logger);
  const estimate =
    opts.estimate !== undefined
      ? opts.estimate
      : wantProgress
        ? await estimateTable(src, opts.srcTable)
        : null;
  if (opts.format !== 'binary') {
    // Text values must read back as they were written: ISO dates parse under any DateStyle
    // order, 'postgres' intervals under any IntervalStyle; floats at full precision.
    await src.query(
      `select set_config('datestyle', 'ISO', true), set_config('intervalstyle', 'postgres', true),
              set_config('extra_float_digits', '3', true)`,
    );
  }
  await dst.query(`select set_config('application_name', $1, false)`, [copyApplicationName(opts.dstTable)]);

  const meter = new ProgressMeter({
    table: opts.dstTable,
    estimate,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.progressIntervalMs === undefined ? {} : { intervalMs: opts.progressIntervalMs }),
  });
  // The provider's CopyData messages go to the subscriber as they are (frames.ts); a message is
  // a row (the total is still the subscriber's command tag) and its payload what the meter
  // counts as bytes.
  const copyOut = new CopyOutFrames(sql.out);
  const seen = { rows: 0, bytes: 0 };
  const measure = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      // What the reader has counted by now (it may be a chunk or two ahead of this one).
      meter.add(copyOut.frames - seen.rows, copyOut.bytes - seen.bytes);
      seen.rows = copyOut.frames;
      seen.bytes = copyOut.bytes;
      cb(null, chunk);
    },
  });

  const copyIn = dst.query(passFramesThrough(copyFrom(sql.in)));
  const out = outbound(src.query(copyOut));
  try {
    await pipeline(out.readable, measure, copyIn, ...(opts.signal ? [{ signal: opts.signal }] : []));
  } catch (err) {
    await out.stop(src);
    if (opts.signal?.aborted) {
      throw new LondisteError('copy_failed', `copy of ${opts.srcTable} → ${opts.dstTable} aborted`, {
        cause: err,
      });
    }
    throw new LondisteError(
      'copy_failed',
      `copy of ${opts.srcTable} → ${opts.dstTable} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  meter.finish(copyIn.rowCount);
  return { rows: copyIn.rowCount, bytes: meter.bytes, durationMs: performance.now() - started };
}

/**
 * Wraps the provider's COPY OUT so that the pipeline never destroys it. A destroyed COPY OUT
 * stream stops reading the connection, so the server's remaining rows — and the error a cancel
 * brings — would never be read, leaving the connection stuck in COPY mode. Instead stop() sends
 * a cancel request and reads the stream to its end, discarding what is left.
 */
function outbound(copyOut: Readable): { readable: Readable; stop(src: pg.ClientBase): Promise<void> } {
  let settled = false;
  const finished = new Promise<void>((resolve) => {
    copyOut.once('end', () => {
      settled = true;
      resolve();
    });
    copyOut.once('error', () => {
      settled = true;
      resolve();
    });
  });
  const readable = new Readable({
    read() {
      copyOut.resume();
    },
  });
  const forward = (chunk: Buffer) => {
    if (!readable.push(chunk)) copyOut.pause();
  };
  copyOut.on('data', forward);
  copyOut.once('end', () => readable.push(null));
  copyOut.once('error', (err) => readable.destroy(err));
  return {
    readable,
    async stop(src) {
      if (settled) return;
      copyOut.off('data', forward);
      copyOut.on('data', () => {});
      copyOut.resume();
      const sent = await sendCancelRequest(src);
      const timedOut = await Promise.race([
        finished.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), sent ? 10_000 : 0).unref()),
      ]);
      if (timedOut) {
        // No way to reach the server out of band: closing the connection is the only way out of
        // COPY mode (the provider side only held a read snapshot).
        (src as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        await Promise.race([finished, new Promise((r) => setTimeout(r, 1000).unref())]);
      }
    },
  };
}
