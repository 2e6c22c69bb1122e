// tables, seqs, missing: what this node has registered, as the original prints it (a titled
// table, columns at least 15 wide, None for NULL) or as JSON for scripts.
import type { Queryable } from '../db/transaction.ts';
import { getSeqList, getTableList, localShowMissing } from './tables.ts';
import { dbUrlencode } from './urlenc.ts';

type Cell = string | number | bigint | boolean | null | undefined;

/** The original's display_table: title, header, dashes, rows; nothing at all for no rows. */
export function formatRows(title: string, fields: readonly string[], rows: readonly Cell[][]): string {
  if (rows.length === 0) return '';
  const text = (v: Cell) =>
    v === null || v === undefined ? 'None' : v === true ? 'True' : v === false ? 'False' : String(v);
  const widths = fields.map((_, i) => Math.max(15, ...rows.map((r) => (r[i] ? text(r[i]).length : 0))) + 2);
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(widths[i]!) : c)).join('');
  return [
    title,
    line(fields),
    line(widths.map((w) => '-'.repeat(w - 2))),
    ...rows.map((r) => line(r.map(text))),
    '',
  ].join('\n');
}

export interface TableRow {
  table_name: string;
  merge_state: string | null;
  table_attrs: string | null;
  dest_table: string | null;
}

/** The local tables, by name. */
export async function localTables(db: Queryable, queue: string): Promise<TableRow[]> {
  return (await getTableList(db, queue))
    .filter((t) => t.local)
    .sort((a, b) => (a.tableName < b.tableName ? -1 : a.tableName > b.tableName ? 1 : 0))
    .map((t) => ({
      table_name: t.tableName,
      merge_state: t.mergeState,
      table_attrs: Object.keys(t.tableAttrs).length ? dbUrlencode(t.tableAttrs) : null,
      dest_table: t.destTable,
    }));
}

export function formatTables(rows: readonly TableRow[], namesOnly = false): string {
  if (namesOnly) return rows.map((r) => r.table_name).join('\n');
  return formatRows(
    'Tables on node',
    ['table_name', 'merge_state', 'table_attrs'],
    rows.map((r) => [r.table_name, r.merge_state, r.table_attrs ?? '']),
  );
}

export async function seqRows(db: Queryable, queue: string) {
  return (await getSeqList(db, queue)).map((x) => ({
    seq_name: x.seqName,
    local: x.local,
    last_value: x.lastValue,
  }));
}

export function formatSeqs(rows: Awaited<ReturnType<typeof seqRows>>): string {
  return formatRows(
    'Sequences on node',
    ['seq_name', 'local', 'last_value'],
    rows.map((r) => [r.seq_name, r.local, r.last_value]),
  );
}

export async function missingRows(db: Queryable, queue: string) {
  return (await localShowMissing(db, queue)).map((m) => ({ obj_kind: m.kind, obj_name: m.name }));
}

export function formatMissing(rows: Awaited<ReturnType<typeof missingRows>>): string {
  return formatRows(
    'Missing objects on node',
    ['obj_kind', 'obj_name'],
    rows.map((r) => [r.obj_kind, r.obj_name]),
  );
}

/** JSON for scripts, bigints as numbers (as status --json prints ticks). */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x), 2);
}
