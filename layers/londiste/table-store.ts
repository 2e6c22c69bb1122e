// The londiste.* calls replay makes about its tables (the admin has the full set in tables.ts).
import type { Queryable } from '../db/transaction.ts';
import { LondisteError } from './errors.ts';
import { type MergeState, renderMergeState, type TableRow } from './table-state.ts';
import { dbUrldecode, dbUrlencode } from './urlenc.ts';

export async function loadTables(db: Queryable, queue: string): Promise<TableRow[]> {
  const r = await db.query('select * from londiste.get_table_list($1)', [queue]);
  return r.rows.map((row) => ({
    tableName: row.table_name,
    local: row.local === true,
    mergeState: row.merge_state ?? null,
    customSnapshot: row.custom_snapshot ?? null,
    tableAttrs: row.table_attrs ? dbUrldecode(row.table_attrs) : {},
    droppedDdl: row.dropped_ddl ?? null,
    copyRole: row.copy_role ?? null,
    copyPos: Number(row.copy_pos ?? 0),
    destTable: row.dest_table ?? null,
  }));
}

async function retCmd(db: Queryable, sql: string, params: unknown[]) {
  const row = (await db.query(sql, params)).rows[0];
  if (!row || row.ret_code >= 300) {
    throw new LondisteError('refused', `${sql.replace(/^select \* from /, '')}: ${row?.ret_code} ${row?.ret_note}`);
  }
  return row;
}

/** Stores a table's merge state and copy snapshot; returns the stored state text. */
export async function setTableState(
  db: Queryable,
  queue: string,
  table: string,
  snapshot: string | null,
  merge: MergeState,
): Promise<string | null> {
  const text = renderMergeState(merge);
  await retCmd(db, 'select * from londiste.local_set_table_state($1, $2, $3, $4)', [queue, table, snapshot, text]);
  return text;
}

export async function setTableAttrs(
  db: Queryable,
  queue: string,
  table: string,
  attrs: Record<string, string | null>,
): Promise<void> {
  const enc = Object.keys(attrs).length ? dbUrlencode(attrs) : null;
  await retCmd(db, 'select * from londiste.local_set_table_attrs($1, $2, $3)', [queue, table, enc]);
}

export async function setTableStruct(db: Queryable, queue: string, table: string, ddl: string | null) {
  await retCmd(db, 'select * from londiste.local_set_table_struct($1, $2, $3)', [queue, table, ddl]);
}
