// The copy of one table, as the copy job runs it (worker.ts, copy mode): the provider's rows under
// one REPEATABLE READ snapshot streamed into the emptied subscriber table, with its indexes and
// constraints dropped for the load and built after it, then `catching-up` with that snapshot.
//
// One stream (small tables, no primary key, a handler's own copy, or copy_streams = 1): all in
// one subscriber transaction (TRUNCATE, COPY FREEZE, rebuild, state) — a copy killed at any point
// leaves the table `in-copy` and untouched, and the next copy job simply starts over.
//
// Several streams (copy/ranges.ts, copy/parallel.ts): the emptied, bare table is committed first
// with its re-create DDL in table_info.dropped_ddl (as the original's cmode 2), the streams load
// it in their own transactions, the indexes are built on two connections, and one last
// transaction sets `catching-up` and clears dropped_ddl. Killed anywhere before that, the table is
// still `in-copy`: the next copy job drops whatever was rebuilt, empties it and starts over from
// the stored DDL, so nothing is loaded twice and the structure is never lost.
import type pg from 'pg';
import { quoteFqname } from '../db/ident.ts';
import type { Logger } from '../util/log.ts';
import { type ColumnMatch, commonColumns } from './copy/columns.ts';
import { joinDdl, splitDdl } from './copy/ddl-text.ts';
import { parallelCopy } from './copy/parallel.ts';
import { copyTable } from './copy/pipe.ts';
import { estimateTable } from './copy/progress.ts';
import { DEFAULT_COPY_STREAMS, DEFAULT_MIN_ROWS_PER_STREAM, planRanges } from './copy/ranges.ts';
import { rebuildStructure } from './copy/rebuild.ts';
import { createStatements, dropStructure, readStructure } from './copy/structure.ts';
import type { TableHandler } from './handler.ts';
import type { ReplayTable } from './table-state.ts';
import { setTableState, setTableStruct } from './tables.ts';

export interface TableCopyRequest {
  queue: string;
  table: ReplayTable;
  /** The table's name on the provider (its dest_table there). */
  sourceTable: string;
  provider: pg.Client;
  local: pg.Client;
  handler: TableHandler;
  log: Logger;
  dropFkeys: (local: pg.Client, table: string) => Promise<void>;
  /** maintenance_work_mem for the index builds after the load (default 256MB). */
  maintenanceWorkMem?: string;
  signal?: AbortSignal;
  /**
   * COPY streams wanted for this table (default DEFAULT_COPY_STREAMS). More need `connectProvider` and
   * `connectLocal`, a primary key and at least `minRowsPerStream` rows per stream.
   */
  streams?: number;
  /** Below this many rows (provider estimate) per stream, fewer streams (default 250000). */
  minRowsPerStream?: number;
  /** Opens another connection to the provider (parallel streams). */
  connectProvider?: () => Promise<pg.Client>;
  /** Opens another connection to this node (parallel streams and index builds). */
  connectLocal?: () => Promise<pg.Client>;
  /**
   * A merged table's part (several queues feeding one table, londiste._coordinate_copy):
   * `lead` empties the table and takes its structure off (kept in dropped_ddl until every part
   * is copied, then restoreStructure), `join` adds this part's rows to it as it is. Each part
   * loads in one transaction with its state change, so a part killed midway left nothing.
   */
  role?: 'lead' | 'join' | null;
  /**
   * Test hook: `copy:loaded` is after the rows and indexes are in, before the commit; parallel
   * copies also call `copy:bare` (the emptied table committed) and `copy:stream-done` (a stream
   * committed while others may still run).
   */
  fault?: (point: string) => void | Promise<void>;
}

export interface TableCopyResult {
  snapshot: string;
  rows: number;
  bytes: number;
  copyMs: number;
  buildMs: number;
  /** COPY streams used (1: the single-transaction copy). */
  streams: number;
  /** Rows per second of each stream, over its own duration. */
  streamRates: number[];
}

/** Copies the table; returns the provider snapshot stored with `catching-up`. */
export async function performTableCopy(req: TableCopyRequest): Promise<TableCopyResult> {
  const { provider, local, table: t, log, handler } = req;
  // Foreign keys first, each in its own transaction (as the original: no long lock chains).
  await req.dropFkeys(local, t.destTable);

  await provider.query('begin isolation level repeatable read');
  try {
    if (req.role) return await copyPart(req, req.role);
    const wanted = req.streams ?? DEFAULT_COPY_STREAMS;
    // skip_truncate keeps the rows already there: a restarted parallel load would add its
    // committed streams' rows twice, so such a table loads in the one transaction.
    const canSplit =
      wanted > 1 &&
      !handler.realCopy &&
      !t.attrs.skip_truncate &&
      !!req.connectProvider &&
      !!req.connectLocal;
    const plan = canSplit
      ? await planRanges(provider, req.sourceTable, {
          streams: wanted,
          minRowsPerStream: req.minRowsPerStream ?? DEFAULT_MIN_ROWS_PER_STREAM,
        })
      : null;
    if (plan && plan.conditions.length < wanted)
      log.info('copy streams reduced', {
        table: t.name,
        streams: plan.conditions.length,
        wanted,
        reason: plan.reason,
      });
    if (plan && plan.conditions.length > 1) return await copyParallel(req, plan.conditions);
    return await copySingle(req);
  } catch (err) {
    await provider.query('rollback').catch(() => {});
    throw err;
  }
}

/** What both paths do first on the subscriber, in its open transaction. */
async function prepareLocal(
  req: TableCopyRequest,
): Promise<{ cols: ColumnMatch; rebuild: string[]; stored: boolean; truncated: boolean }> {
  const { provider, local, table: t, log } = req;
  const dest = t.destTable;
  // As replay: the subscriber's own triggers (londiste's deny trigger among them) stay quiet.
  await local.query("select londiste.set_session_replication_role('replica', true)");
  await local.query(`lock table ${quoteFqname(dest)}`);
  const cols = await commonColumns(provider, req.sourceTable, local, dest);
  for (const c of cols.missingOnSubscriber)
    log.warn('column missing on subscriber', { table: t.name, column: c });
  for (const c of cols.missingOnProvider)
    log.warn('column missing on provider', { table: t.name, column: c });
  // DDL stored by a parallel copy that did not finish (or by the original's copy): the table is
  // (partly) bare, and that text — not what is left on the table — is the structure to rebuild.
  const ddl = await local.query<{ ddl: string | null }>(
    'select dropped_ddl as ddl from londiste.table_info where queue_name = $1 and table_name = $2 and local',
    [req.queue, t.name],
  );
  const storedDdl = ddl.rows[0]?.ddl ?? null;
  const structure = await readStructure(local, dest);
  await dropStructure(local, structure);
  if (storedDdl) log.info('rebuilding the structure stored by an earlier copy', { table: t.name });
  const truncated = !t.attrs.skip_truncate;
  if (truncated) await local.query(`truncate only ${quoteFqname(dest)}`);
  else log.info('skipping truncate', { table: t.name });
  return {
    cols,
    rebuild: storedDdl ? splitDdl(storedDdl) : createStatements(structure),
    stored: storedDdl != null,
    truncated,
  };
}

async function copySingle(req: TableCopyRequest): Promise<TableCopyResult> {
  const { provider, local, table: t, log, handler } = req;
  const dest = t.destTable;
  await local.query('begin');
  try {
    const { cols, rebuild, stored, truncated } = await prepareLocal(req);
    const condition = await handler.copyCondition({ provider, local, log });
    const started = Date.now();
    let rows: number;
    let bytes: number;
    if (handler.realCopy) {
      ({ rows, bytes } = await handler.realCopy({
        provider,
        local,
        sourceTable: req.sourceTable,
        columns: cols.common,
        log,
      }));
    } else {
      ({ rows, bytes } = await copyTable(provider, local, {
        srcTable: req.sourceTable,
        dstTable: dest,
        columns: cols.common,
        condition: condition || undefined,
        format: cols.binaryCompatible ? 'binary' : 'text',
        // Truncated in this transaction: rows can go in frozen (no hint-bit rewrite, no vacuum).
        freeze: truncated,
        logger: log,
        estimate: await estimateTable(provider, req.sourceTable).catch(() => null),
        signal: req.signal,
      }));
    }
    const copyMs = Date.now() - started;
    const snapshot = (await provider.query('select txid_current_snapshot()::text as s')).rows[0].s as string;
    await provider.query('commit');

    const built = Date.now();
    await rebuildStructure(local, rebuild, {
      table: dest,
      maintenanceWorkMem: req.maintenanceWorkMem ?? '256MB',
      logger: log,
    });
    const buildMs = Date.now() - built;
    if (stored) await setTableStruct(local, req.queue, t.name, null);
    await setTableState(local, req.queue, t.name, snapshot, { name: 'catching-up' });
    await req.fault?.('copy:loaded');
    await local.query('commit');
    log.info('table copied', { table: t.name, rows, bytes, copyMs, buildMs });
    await local.query(`analyze ${quoteFqname(dest)}`);
    return {
      snapshot,
      rows,
      bytes,
      copyMs,
      buildMs,
      streams: 1,
      streamRates: [(rows * 1000) / Math.max(1, copyMs)],
    };
  } catch (err) {
    await local.query('rollback').catch(() => {});
    throw err;
  }
}

async function copyParallel(req: TableCopyRequest, ranges: readonly string[]): Promise<TableCopyResult> {
  const { provider, local, table: t, log, handler } = req;
  const dest = t.destTable;
  const connectLocal = req.connectLocal as () => Promise<pg.Client>;
  // 1. The bare, empty table and its re-create DDL, committed: the streams' transactions can
  //    then write into it beside each other.
  await local.query('begin');
  let prepared: Awaited<ReturnType<typeof prepareLocal>>;
  try {
    prepared = await prepareLocal(req);
    if (!prepared.stored && prepared.rebuild.length > 0)
      await setTableStruct(local, req.queue, t.name, joinDdl(prepared.rebuild));
    await local.query('commit');
  } catch (err) {
    await local.query('rollback').catch(() => {});
    throw err;
  }
  await req.fault?.('copy:bare');

  // 2. The streams, under the provider transaction's snapshot.
  const condition = await handler.copyCondition({ provider, local, log });
  const started = Date.now();
  const res = await parallelCopy(provider, {
    srcTable: req.sourceTable,
    dstTable: dest,
    columns: prepared.cols.common,
    conditions: ranges.map((r) => (condition ? `(${condition}) and ${r}` : r)),
    format: prepared.cols.binaryCompatible ? 'binary' : 'text',
    connectProvider: req.connectProvider as () => Promise<pg.Client>,
    connectLocal,
    estimate: await estimateTable(provider, req.sourceTable).catch(() => null),
    logger: log,
    signal: req.signal,
    onStreamCommitted: () => req.fault?.('copy:stream-done'),
  });
  const copyMs = Date.now() - started;
  const snapshot = (await provider.query('select txid_current_snapshot()::text as s')).rows[0].s as string;
  await provider.query('commit');

  // 3. Indexes and constraints: the load is committed, so the builds can share two connections.
  const built = Date.now();
  await rebuildStructure(local, prepared.rebuild, {
    table: dest,
    maintenanceWorkMem: req.maintenanceWorkMem ?? '256MB',
    parallel: 2,
    connect: connectLocal,
    skipExisting: true,
    logger: log,
  });
  const buildMs = Date.now() - built;

  // 4. Done: catching-up with the snapshot, the stored DDL cleared — one transaction.
  await local.query('begin');
  try {
    if (prepared.rebuild.length > 0 || prepared.stored) await setTableStruct(local, req.queue, t.name, null);
    await setTableState(local, req.queue, t.name, snapshot, { name: 'catching-up' });
    await req.fault?.('copy:loaded');
    await local.query('commit');
  } catch (err) {
    await local.query('rollback').catch(() => {});
    throw err;
  }
  log.info('table copied', {
    table: t.name,
    rows: res.rows,
    bytes: res.bytes,
    copyMs,
    buildMs,
    streams: ranges.length,
  });
  await local.query(`analyze ${quoteFqname(dest)}`);
  return {
    snapshot,
    rows: res.rows,
    bytes: res.bytes,
    copyMs,
    buildMs,
    streams: ranges.length,
    streamRates: res.streams.map((x) => x.rowsPerSec),
  };
}

/**
 * One part of a merged table (the original's cmode 2 for the lead, 0 for the others): the lead
 * first commits the emptied, bare table with its DDL stored — once: a lead that finds its DDL
 * stored already must not empty the table again, other parts may have loaded into it since —
 * then every part COPYs its provider's rows and sets `catching-up` in one transaction. The
 * structure comes back when no part is in copy any more (restoreStructure).
 */
async function copyPart(req: TableCopyRequest, role: 'lead' | 'join'): Promise<TableCopyResult> {
  const { provider, local, table: t, log, handler } = req;
  const dest = t.destTable;
  if (role === 'lead') {
    await local.query('begin');
    try {
      const stored = await local.query(
        'select dropped_ddl is not null as stored from londiste.table_info where queue_name = $1 and table_name = $2',
        [req.queue, t.name],
      );
      if (!stored.rows[0]?.stored) {
        const p = await prepareLocal(req);
        // A structure-less table still needs a mark that it was emptied: an empty DDL text.
        await setTableStruct(local, req.queue, t.name, p.rebuild.length ? joinDdl(p.rebuild) : '');
        log.info('merged table emptied for its parts', { table: t.name });
      }
      await local.query('commit');
    } catch (err) {
      await local.query('rollback').catch(() => {});
      throw err;
    }
    await req.fault?.('copy:bare');
  }
  await local.query('begin');
  try {
    await local.query("select londiste.set_session_replication_role('replica', true)");
    const cols = await commonColumns(provider, req.sourceTable, local, dest);
    const condition = await handler.copyCondition({ provider, local, log });
    const started = Date.now();
    const { rows, bytes } = await copyTable(provider, local, {
      srcTable: req.sourceTable,
      dstTable: dest,
      columns: cols.common,
      condition: condition || undefined,
      format: cols.binaryCompatible ? 'binary' : 'text',
      logger: log,
      estimate: await estimateTable(provider, req.sourceTable).catch(() => null),
      signal: req.signal,
    });
    const copyMs = Date.now() - started;
    const snapshot = (await provider.query('select txid_current_snapshot()::text as s')).rows[0].s as string;
    await provider.query('commit');
    await setTableState(local, req.queue, t.name, snapshot, { name: 'catching-up' });
    await req.fault?.('copy:loaded');
    await local.query('commit');
    log.info('table part copied', { table: t.name, role, rows, bytes, copyMs });
    return {
      snapshot,
      rows,
      bytes,
      copyMs,
      buildMs: 0,
      streams: 1,
      streamRates: [(rows * 1000) / Math.max(1, copyMs)],
    };
  } catch (err) {
    await local.query('rollback').catch(() => {});
    throw err;
  }
}

/**
 * A merged table's structure back once every part is past its copy (the lead's job): the stored
 * DDL run (index builds on two connections, what exists already skipped), then cleared.
 */
export async function restoreStructure(
  req: Pick<TableCopyRequest, 'queue' | 'table' | 'local' | 'log' | 'maintenanceWorkMem' | 'connectLocal'>,
  ddl: string,
): Promise<void> {
  const { local, table: t, log } = req;
  const started = Date.now();
  await rebuildStructure(local, splitDdl(ddl), {
    table: t.destTable,
    maintenanceWorkMem: req.maintenanceWorkMem ?? '256MB',
    ...(req.connectLocal ? { parallel: 2, connect: req.connectLocal } : {}),
    skipExisting: true,
    logger: log,
  });
  await setTableStruct(local, req.queue, t.name, null);
  log.info('merged table structure restored', { table: t.name, buildMs: Date.now() - started });
  await local.query(`analyze ${quoteFqname(t.destTable)}`);
}
