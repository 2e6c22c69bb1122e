// The copy of one table, as the copy job runs it (worker.ts, copy mode): the provider's rows under
// one REPEATABLE READ snapshot streamed into the emptied subscriber table, with its indexes and
// constraints dropped for the load and built after it, all in one subscriber transaction that also
// records `catching-up` with that snapshot — so a copy killed at any point leaves the table
// `in-copy` and untouched, and the next copy job simply starts over.
import type pg from 'pg';
import { quoteFqname } from '../db/ident.ts';
import type { Logger } from '../util/log.ts';
import { commonColumns } from './copy/columns.ts';
import { copyTable } from './copy/pipe.ts';
import { estimateTable } from './copy/progress.ts';
import { rebuildStructure } from './copy/rebuild.ts';
import { createStatements, dropStructure, readStructure } from './copy/structure.ts';
import type { TableHandler } from './handler.ts';
import type { ReplayTable } from './table-state.ts';
import { setTableState } from './tables.ts';

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
  /** Test hook: `copy:loaded` is after the rows and indexes are in, before the commit. */
  fault?: (point: string) => void | Promise<void>;
}

export interface TableCopyResult {
  snapshot: string;
  rows: number;
  bytes: number;
  copyMs: number;
  buildMs: number;
}

/** Copies the table; returns the provider snapshot stored with `catching-up`. */
export async function performTableCopy(req: TableCopyRequest): Promise<TableCopyResult> {
  const { provider, local, table: t, log, handler } = req;
  const dest = t.destTable;
  // Foreign keys first, each in its own transaction (as the original: no long lock chains).
  await req.dropFkeys(local, dest);

  await provider.query('begin isolation level repeatable read');
  await local.query('begin');
  try {
    // As replay: the subscriber's own triggers (londiste's deny trigger among them) stay quiet.
    await local.query("select londiste.set_session_replication_role('replica', true)");
    await local.query(`lock table ${quoteFqname(dest)}`);
    const cols = await commonColumns(provider, req.sourceTable, local, dest);
    for (const c of cols.missingOnSubscriber)
      log.warn('column missing on subscriber', { table: t.name, column: c });
    for (const c of cols.missingOnProvider)
      log.warn('column missing on provider', { table: t.name, column: c });

    const structure = await readStructure(local, dest);
    await dropStructure(local, structure);
    const truncated = !t.attrs.skip_truncate;
    if (truncated) await local.query(`truncate only ${quoteFqname(dest)}`);
    else log.info('skipping truncate', { table: t.name });

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
    await rebuildStructure(local, createStatements(structure), {
      table: dest,
      maintenanceWorkMem: req.maintenanceWorkMem ?? '256MB',
      logger: log,
    });
    const buildMs = Date.now() - built;
    await setTableState(local, req.queue, t.name, snapshot, { name: 'catching-up' });
    await req.fault?.('copy:loaded');
    await local.query('commit');
    log.info('table copied', { table: t.name, rows, bytes, copyMs, buildMs });
    await local.query(`analyze ${quoteFqname(dest)}`);
    return { snapshot, rows, bytes, copyMs, buildMs };
  } catch (err) {
    await local.query('rollback').catch(() => {});
    await provider.query('rollback').catch(() => {});
    throw err;
  }
}
