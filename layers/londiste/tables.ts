// Typed wrappers over the londiste.* SQL calls (our sql/londiste or the packaged 3.8 extension:
// only public functions are used), and the table state of the copy state machine as the original
// stores it in table_info.merge_state. The admin, the replay worker and the copy job all read and
// write tables through here, so every (ret_code, ret_note) is checked in one place.
import { toBigInt } from '../db/connection.ts';
import type { Queryable } from '../db/transaction.ts';
import { LondisteError } from './errors.ts';
import { dbUrldecode, dbUrlencode, type UrlencRow } from './urlenc.ts';

// ---- table states ------------------------------------------------------------------------------

/**
 * The copy state machine, NULL → in-copy → catching-up → wanna-sync:N → do-sync:N → ok. Each state
 * has one owner allowed to move a table out of it (playback.py's table): `main` is the replay
 * worker, `copy` the copy job, `setup` the admin (add-table --expect-sync, resync).
 */
export const TABLE_STATES = ['missing', 'in-copy', 'catching-up', 'wanna-sync', 'do-sync', 'ok'] as const;
export type TableStateName = (typeof TABLE_STATES)[number];

export const STATE_OWNER: Readonly<Record<TableStateName, 'main' | 'copy' | 'setup'>> = {
  missing: 'main',
  'in-copy': 'copy',
  'catching-up': 'copy',
  'wanna-sync': 'main',
  'do-sync': 'copy',
  ok: 'setup',
};

/** A parsed merge_state; the two sync states carry the tick the handover happens at. */
export type TableState =
  | { name: 'missing' | 'in-copy' | 'catching-up' | 'ok' }
  | { name: 'wanna-sync' | 'do-sync'; tick: bigint };

/** merge_state as stored: NULL (missing), 'in-copy', 'catching-up', 'wanna-sync:N', 'do-sync:N', 'ok'. */
export type MergeState = string | null;

/**
 * merge_state → state. '?' is 'ok' (an old marker the original still reads as ok); anything else
 * unknown is an error naming the value, as the original refuses to guess.
 */
export function parseMergeState(s: MergeState): TableState {
  if (s === null) return { name: 'missing' };
  if (s === 'in-copy' || s === 'catching-up' || s === 'ok') return { name: s };
  if (s === '?') return { name: 'ok' };
  const m = /^(wanna-sync|do-sync):(-?\d+)$/.exec(s);
  if (m) return { name: m[1] as 'wanna-sync' | 'do-sync', tick: BigInt(m[2]!) };
  throw new LondisteError('state', `bad table state ${JSON.stringify(s)} in londiste.table_info.merge_state`);
}

/** state → merge_state, the inverse of parseMergeState. */
export function renderMergeState(st: TableState): MergeState {
  switch (st.name) {
    case 'missing':
      return null;
    case 'wanna-sync':
    case 'do-sync':
      return `${st.name}:${st.tick}`;
    default:
      return st.name;
  }
}

// ---- names -----------------------------------------------------------------------------------

/** 'tbl' → 'public.tbl', 'sch.tbl' unchanged: how londiste names tables and sequences everywhere. */
export function fqName(name: string): string {
  return name.includes('.') ? name : `public.${name}`;
}

// ---- the ret_code check ---------------------------------------------------------------------------

/** A (ret_code, ret_note) answer of a londiste admin function. */
export interface RetNote {
  ret_code: number;
  ret_note: string;
}

/**
 * Runs `select * from londiste.<fn>(…)` and checks its (ret_code, ret_note): 1xx/2xx are success,
 * 3xx a warning returned to the caller to report (the original logs and goes on: e.g. 301, a trigger
 * fires before londiste's), ≥ 400 throws `LondisteError('refused')` unless `allow` lists the code.
 */
export async function londisteCmd(
  db: Queryable,
  fn: string,
  params: unknown[],
  allow: readonly number[] = [],
): Promise<RetNote> {
  const sql = `select * from londiste.${fn}(${params.map((_, i) => `$${i + 1}`).join(', ')})`;
  const row = (await db.query(sql, params)).rows[0] as RetNote | undefined;
  if (!row) throw new LondisteError('refused', `londiste.${fn}: returned no row`);
  if (row.ret_code >= 400 && !allow.includes(row.ret_code)) {
    throw new LondisteError(
      'refused',
      `londiste.${fn}(${describe(params)}): ${row.ret_code} ${row.ret_note}`,
    );
  }
  return { ret_code: row.ret_code, ret_note: row.ret_note };
}

function describe(params: unknown[]): string {
  return params
    .map((p) => (p == null ? 'null' : Array.isArray(p) ? `{${p.join(',')}}` : String(p)))
    .join(', ');
}

// ---- reading ----------------------------------------------------------------------------------

export interface TableInfo {
  tableName: string;
  /** Whether events for it are applied on this node (registered locally). */
  local: boolean;
  /** merge_state as stored; `state` is its parsed form. */
  mergeState: MergeState;
  state: TableState;
  /** The txid snapshot of the copy's transaction (catching-up applies what it did not see). */
  customSnapshot: string | null;
  /** table_attrs decoded (handler, copy_node, skip_truncate, max_parallel_copy, …). */
  tableAttrs: UrlencRow;
  droppedDdl: string | null;
  copyRole: string | null;
  copyPos: number;
  /** The table the events are written to; null when it is tableName itself. */
  destTable: string | null;
}

/** londiste.get_table_list: every table of the queue known here, in registration order. */
export async function getTableList(db: Queryable, queue: string): Promise<TableInfo[]> {
  const r = await db.query('select * from londiste.get_table_list($1)', [queue]);
  return r.rows.map((row) => ({
    tableName: row.table_name,
    local: row.local === true,
    mergeState: row.merge_state ?? null,
    state: parseMergeState(row.merge_state ?? null),
    customSnapshot: row.custom_snapshot ?? null,
    tableAttrs: dbUrldecode(row.table_attrs ?? ''),
    droppedDdl: row.dropped_ddl ?? null,
    copyRole: row.copy_role ?? null,
    copyPos: row.copy_pos ?? 0,
    destTable: row.dest_table ?? null,
  }));
}

export interface SeqInfo {
  seqName: string;
  /** Last value published by the root (null before the first publication). */
  lastValue: bigint | null;
  local: boolean;
}

/** londiste.get_seq_list: every sequence of the queue known here. */
export async function getSeqList(db: Queryable, queue: string): Promise<SeqInfo[]> {
  const r = await db.query('select * from londiste.get_seq_list($1)', [queue]);
  return r.rows.map((row) => ({
    seqName: row.seq_name,
    lastValue: row.last_value == null ? null : toBigInt(row.last_value),
    local: row.local === true,
  }));
}

export interface MissingObject {
  /** 'r' table, 'S' sequence. */
  kind: 'r' | 'S';
  name: string;
}

/**
 * londiste.local_show_missing: on the root, tables and sequences of the database not in the set;
 * elsewhere, objects of the set not registered on this node.
 */
export async function localShowMissing(db: Queryable, queue: string): Promise<MissingObject[]> {
  const r = await db.query('select obj_kind, obj_name from londiste.local_show_missing($1)', [queue]);
  return r.rows.map((row) => ({ kind: row.obj_kind, name: row.obj_name }));
}

// ---- local registration -----------------------------------------------------------------------------

/** table_attrs given decoded (encoded here) or already encoded; empty → NULL as the original stores it. */
function attrsText(attrs: UrlencRow | string | null | undefined): string | null {
  if (attrs == null) return null;
  if (typeof attrs === 'string') return attrs || null;
  return Object.keys(attrs).length ? dbUrlencode(attrs) : null;
}

export interface AddTableOptions {
  /** Trigger arguments and the magic words (no_triggers, expect_sync, tgflags=…, skip, …). */
  triggerArgs?: readonly string[];
  tableAttrs?: UrlencRow | string | null;
  /** Write the events to this table instead (add-table --dest-table). */
  destTable?: string | null;
}

/**
 * londiste.local_add_table(5): registers the table here (on the root: in the set, with the
 * trigger; elsewhere: local = true, state NULL so the worker copies it). 301 (a trigger fires
 * before londiste's) comes back as a warning; 400/404/410 throw.
 */
export function localAddTable(
  db: Queryable,
  queue: string,
  table: string,
  o: AddTableOptions = {},
): Promise<RetNote> {
  return londisteCmd(db, 'local_add_table', [
    queue,
    table,
    [...(o.triggerArgs ?? [])],
    attrsText(o.tableAttrs),
    o.destTable ?? null,
  ]);
}

/** londiste.local_remove_table: on the root, from the set (and its trigger); elsewhere local = false. */
export function localRemoveTable(db: Queryable, queue: string, table: string): Promise<RetNote> {
  return londisteCmd(db, 'local_remove_table', [queue, table]);
}

/** londiste.local_change_handler: new table_attrs (handler) and trigger arguments; the trigger is rebuilt. */
export function localChangeHandler(
  db: Queryable,
  queue: string,
  table: string,
  triggerArgs: readonly string[],
  tableAttrs: UrlencRow | string | null,
): Promise<RetNote> {
  return londisteCmd(db, 'local_change_handler', [queue, table, [...triggerArgs], attrsText(tableAttrs)]);
}

export function localAddSeq(db: Queryable, queue: string, seq: string): Promise<RetNote> {
  return londisteCmd(db, 'local_add_seq', [queue, seq]);
}

export function localRemoveSeq(db: Queryable, queue: string, seq: string): Promise<RetNote> {
  return londisteCmd(db, 'local_remove_seq', [queue, seq]);
}

/**
 * londiste.local_set_table_state: the table's state and the copy snapshot (null clears it). The
 * state may be given parsed or as merge_state text.
 */
export function setTableState(
  db: Queryable,
  queue: string,
  table: string,
  snapshot: string | null,
  state: TableState | MergeState,
): Promise<RetNote> {
  const merge = state !== null && typeof state === 'object' ? renderMergeState(state) : state;
  if (typeof merge === 'string') parseMergeState(merge); // refuse to store a state nobody can read
  return londisteCmd(db, 'local_set_table_state', [queue, table, snapshot, merge]);
}

export function setTableAttrs(
  db: Queryable,
  queue: string,
  table: string,
  attrs: UrlencRow | string | null,
): Promise<RetNote> {
  return londisteCmd(db, 'local_set_table_attrs', [queue, table, attrsText(attrs)]);
}

/** londiste.local_set_table_struct: the DDL dropped for the copy, to restore after it (null clears). */
export function setTableStruct(
  db: Queryable,
  queue: string,
  table: string,
  droppedDdl: string | null,
): Promise<RetNote> {
  return londisteCmd(db, 'local_set_table_struct', [queue, table, droppedDdl]);
}

// ---- set-wide registration (what the provider's events / the provider's lists say) -------------

export function globalAddTable(db: Queryable, queue: string, table: string): Promise<RetNote> {
  return londisteCmd(db, 'global_add_table', [queue, table]);
}

/** 400 (not registered) is allowed: removing what is gone is what the caller wanted. */
export function globalRemoveTable(db: Queryable, queue: string, table: string): Promise<RetNote> {
  return londisteCmd(db, 'global_remove_table', [queue, table], [400]);
}

export function globalUpdateSeq(
  db: Queryable,
  queue: string,
  seq: string,
  value: bigint | number | null,
): Promise<RetNote> {
  return londisteCmd(db, 'global_update_seq', [queue, seq, value == null ? null : String(value)]);
}

export function globalRemoveSeq(db: Queryable, queue: string, seq: string): Promise<RetNote> {
  return londisteCmd(db, 'global_remove_seq', [queue, seq], [404]);
}

// ---- sequences on the root and EXECUTE ---------------------------------------------------------

/** londiste.root_check_seqs: on the root, publishes sequences that moved (the default buffer). */
export function rootCheckSeqs(db: Queryable, queue: string): Promise<RetNote> {
  return londisteCmd(db, 'root_check_seqs', [queue]);
}

/**
 * londiste.execute_start(5): 200 proceed, 201 already applied (skip it); 401 not root and 404
 * throw. `attrs` goes into the EXECUTE event's ev_extra2.
 */
export function executeStart(
  db: Queryable,
  queue: string,
  fileName: string,
  sql: string,
  expectRoot: boolean,
  attrs: string | null,
): Promise<RetNote> {
  return londisteCmd(db, 'execute_start', [queue, fileName, sql, expectRoot, attrs]);
}

/** londiste.execute_finish: on the root, sends the EXECUTE event. */
export function executeFinish(db: Queryable, queue: string, fileName: string): Promise<RetNote> {
  return londisteCmd(db, 'execute_finish', [queue, fileName]);
}
