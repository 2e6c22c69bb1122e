// The copy of one table, as the copy job runs it (worker.ts, copy mode): the provider's rows under
// one REPEATABLE READ snapshot streamed into the emptied subscriber table, all in one subscriber
// transaction that also records `catching-up` with that snapshot — so a copy killed at any point
// leaves the table `in-copy` and untouched, and the next copy job simply starts over.
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { quoteFqname, quoteIdent } from '../db/ident.ts';
import type { Logger } from '../util/log.ts';
import type { TableState } from './table-state.ts';
import { setTableState } from './table-store.ts';

export interface TableCopyRequest {
  queue: string;
  table: TableState;
  /** The table's name on the provider (its dest_table there). */
  sourceTable: string;
  provider: pg.Client;
  local: pg.Client;
  /** The handler's WHERE condition for the copy, or null. */
  copyCondition: string | null;
  log: Logger;
  dropFkeys: (local: pg.Client, table: string) => Promise<void>;
  /** Test hook: `copy:loaded` is after the rows are in, before the commit. */
  fault?: (point: string) => void | Promise<void>;
}

async function columnsOf(db: pg.ClientBase, table: string): Promise<string[]> {
  const r = await db.query(
    `select a.attname from pg_catalog.pg_attribute a
      where a.attrelid = londiste.find_table_oid($1) and a.attnum > 0 and not a.attisdropped
        and a.attgenerated = ''
      order by a.attnum`,
    [table],
  );
  return r.rows.map((x) => x.attname as string);
}

/** Copies the table; returns the provider snapshot stored with `catching-up`. */
export async function performTableCopy(req: TableCopyRequest): Promise<string> {
  const { provider, local, table: t, log } = req;
  const dest = t.destTable;
  // Foreign keys first, each in its own transaction (as the original: no long lock chains).
  await req.dropFkeys(local, dest);

  await provider.query('begin isolation level repeatable read');
  await local.query('begin');
  try {
    // As replay: the subscriber's own triggers (londiste's deny trigger among them) stay quiet.
    await local.query("select londiste.set_session_replication_role('replica', true)");
    await local.query(`lock table ${quoteFqname(dest)}`);
    const srcCols = await columnsOf(provider, req.sourceTable);
    const dstCols = new Set(await columnsOf(local, dest));
    const cols = srcCols.filter((c) => dstCols.has(c));
    for (const c of srcCols) if (!dstCols.has(c)) log.warn('column missing on subscriber', { table: t.name, column: c });
    for (const c of dstCols) if (!srcCols.includes(c)) log.warn('column missing on provider', { table: t.name, column: c });
    if (t.attrs.skip_truncate) log.info('skipping truncate', { table: t.name });
    else await local.query(`truncate only ${quoteFqname(dest)}`);

    const colList = cols.map(quoteIdent).join(', ');
    const where = req.copyCondition ? ` where ${req.copyCondition}` : '';
    const started = Date.now();
    const source = provider.query(
      copyTo(`copy (select ${colList} from only ${quoteFqname(req.sourceTable)}${where}) to stdout`),
    );
    const sink = local.query(copyFrom(`copy ${quoteFqname(dest)} (${colList}) from stdin`));
    await pipeline(source, sink);
    log.info('rows copied', { table: t.name, rows: sink.rowCount, ms: Date.now() - started });

    const snap = (await provider.query('select txid_current_snapshot()::text as s')).rows[0].s as string;
    await provider.query('commit');
    await setTableState(local, req.queue, t.name, snap, { state: 'catching-up' });
    await req.fault?.('copy:loaded');
    await local.query('commit');
    await local.query(`analyze ${quoteFqname(dest)}`);
    return snap;
  } catch (err) {
    await local.query('rollback').catch(() => {});
    await provider.query('rollback').catch(() => {});
    throw err;
  }
}
