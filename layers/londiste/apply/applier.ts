// The set-based apply of a batch. Changes are buffered per destination table in event order;
// flush(table) writes them: the run of row changes between two order barriers (a sqltriga fragment
// kept as SQL, a change of the key columns the events name) is collapsed per key (collapse.ts)
// and written with at most one DELETE, one UPDATE per column set and one upsert per column set,
// the rows as one JSON parameter. Each table's flush runs under a savepoint: when the set-based form
// hits a unique violation that event order would not (two rows swapping a unique value), the table
// is written again one statement per event; when the table cannot take a change, the savepoint is
// rolled back and the error is a LondisteError('apply_failed') naming the table, with the batch's
// transaction still usable, so the worker can isolate the table.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { LondisteError } from '../errors.ts';
import type { RowChange, TableChange } from '../events.ts';
import { emptyRow } from '../urlenc.ts';
import { type Collapsed, collapse } from './collapse.ts';
import { asApplyError, isSetConflict } from './errors.ts';
import { ShapeCache, type TableShape } from './shape.ts';
import {
  copyInsert,
  rawStatement,
  rowDelete,
  rowExists,
  rowInsert,
  rowUpdate,
  rowUpsert,
  type Stmt,
  setDelete,
  setExisting,
  setInsert,
  setUpdate,
  setUpsert,
} from './statements.ts';

export interface ApplierOptions {
  /** Buffered changes per table after which add() asks for a flush (default 5 000). */
  maxPending?: number;
}

export interface ApplierStats {
  /** Changes written (events, before collapsing). */
  changes: number;
  /** Statements run against destination tables. */
  statements: number;
  /** Table flushes that fell back to one statement per event. */
  fallbacks: number;
  /** Of the statements, the COPYs of inserts. */
  copies: number;
}

const SAVEPOINT = 'londiste_apply';

/** Chunks written behind at most at once (flushBehind): two keeps the server busy between them. */
const MAX_BEHIND = 2;

/** Changes of a table's first chunk after the pipeline was idle (see add). */
const FIRST_PENDING = 1_000;

// Prepared statement names by SQL text. pg prepares a name once per connection and refuses one
// name for two texts, so the name is derived from the text: any applier on any connection agrees.
const statementNames = new Map<string, string>();

export class SetApplier {
  readonly shapes = new ShapeCache();
  readonly stats: ApplierStats = { changes: 0, statements: 0, fallbacks: 0, copies: 0 };
  private readonly maxPending: number;
  /** Whether a chunk is being written behind since the pipeline was last idle (settle, flush). */
  private streaming = false;
  private readonly pending = new Map<string, TableChange[]>();
  /**
   * The flushes flushBehind started and nobody has waited for, oldest first, each chained after
   * the one before (a failure skips those after it; every rejection is handled).
   */
  private behind: Promise<void>[] = [];

  constructor(opts: ApplierOptions = {}) {
    // Small enough that decoding the next chunk overlaps the server writing this one (flushBehind),
    // big enough that a chunk's few statements cost nothing next to its rows.
    this.maxPending = opts.maxPending ?? 5_000;
  }

  /** Buffers one change for `destTable`; true when the table's buffer is full (flush it). */
  add(destTable: string, change: TableChange): boolean {
    let list = this.pending.get(destTable);
    if (!list) {
      list = [];
      this.pending.set(destTable, list);
    }
    list.push(change);
    // The first chunk after the pipeline was idle is small, so the server starts writing early
    // (a catch-up batch otherwise waits for a whole chunk to be fetched and decoded first).
    return list.length >= (this.streaming ? this.maxPending : Math.min(this.maxPending, FIRST_PENDING));
  }

  /** Buffered changes, of one table or of all. */
  pendingCount(destTable?: string): number {
    if (destTable !== undefined) return this.pending.get(destTable)?.length ?? 0;
    let n = 0;
    for (const l of this.pending.values()) n += l.length;
    return n;
  }

  /** Drops buffered changes, of one table or of all (the batch is being rolled back). */
  reset(destTable?: string): void {
    if (destTable === undefined) {
      this.pending.clear();
      this.behind = []; // their outcome no longer matters: the transaction is rolled back
    } else this.pending.delete(destTable);
  }

  /** Forget a table's cached shape (after DDL on it); all tables without an argument. */
  invalidate(destTable?: string): void {
    this.shapes.invalidate(destTable);
  }

  /**
   * Writes what is buffered for `destTable`, or for every table (in the order they were first
   * touched). On failure the failing table's changes are dropped (its savepoint rolled back);
   * the other tables' stay buffered.
   */
  async flush(client: pg.ClientBase, destTable?: string): Promise<void> {
    await this.settle();
    const tables = destTable === undefined ? [...this.pending.keys()] : [destTable];
    for (const table of tables) {
      const changes = this.pending.get(table);
      if (!changes || changes.length === 0) continue;
      this.pending.delete(table);
      await this.write(client, await this.prepare(client, table, changes));
    }
  }

  /**
   * Starts writing `destTable`'s buffered changes without waiting for them: the caller decodes
   * the next chunk while the server writes this one. Up to MAX_BEHIND chunks are in flight, each
   * written as soon as the one before it is done, so that the server never waits for this
   * process between two chunks; when that many are, this waits for the oldest. The chunk is
   * planned (collapsed, its statements' rows encoded) before that wait. Its error (or one before
   * it) surfaces at the next flush / flushBehind / settle. Every other query on the connection
   * queues behind them in order, and any error fails the whole batch, so the overlap changes no
   * outcome.
   */
  async flushBehind(client: pg.ClientBase, destTable: string): Promise<void> {
    const changes = this.pending.get(destTable);
    if (!changes || changes.length === 0) return;
    this.pending.delete(destTable);
    // Reading a shape not cached yet queries the connection: not behind a flush that may fail.
    if (!this.shapes.peek(destTable)) await this.settle();
    this.streaming = true;
    const prepared = await this.prepare(client, destTable, changes);
    while (this.behind.length >= MAX_BEHIND) await this.behind.shift();
    const before = this.behind.at(-1);
    const p = before ? before.then(() => this.write(client, prepared)) : this.write(client, prepared);
    p.catch(() => {}); // observed by settle() or the wait above
    this.behind.push(p);
  }

  /** Waits for the flushes flushBehind left running; throws the first one's error. */
  async settle(): Promise<void> {
    this.streaming = false;
    const last = this.behind.at(-1);
    this.behind = [];
    if (last) await last; // chained: it fails when any before it failed
  }

  /** A table's changes planned and encoded: what is left is sending them (write). */
  private async prepare(
    client: pg.ClientBase,
    table: string,
    changes: TableChange[],
  ): Promise<PreparedFlush> {
    let shape: TableShape;
    try {
      shape = await this.shapes.get(client, table);
    } catch (err) {
      throw tagTable(asApplyError(err, table), table);
    }
    try {
      const plan = planTable(shape, changes);
      return { table, shape, plan, changes: changes.length, ops: this.setOps(shape, plan, shape.copyable) };
    } catch (err) {
      // A change the table cannot take (no key, a column it lacks): its definition may have moved.
      const mapped = asApplyError(err, table);
      if (mapped instanceof LondisteError) this.shapes.invalidate(table);
      throw tagTable(mapped, table);
    }
  }

  /** Writes a prepared flush under its savepoint (see the file's head for the fallbacks). */
  private async write(client: pg.ClientBase, f: PreparedFlush): Promise<void> {
    const { table, shape, plan } = f;
    await client.query(`savepoint ${SAVEPOINT}`);
    try {
      try {
        await this.runOps(client, shape, f.ops);
      } catch (err) {
        if (!isSetConflict(err)) throw err;
        await client.query(`rollback to savepoint ${SAVEPOINT}`);
        // A COPY met a key that exists (an insert the provider cannot produce, or another unique
        // index): the upsert form first, then, if that conflicts too, one statement per event.
        let done = false;
        if ((err as { fromCopy?: boolean }).fromCopy) {
          try {
            await this.runOps(client, shape, this.setOps(shape, plan, false));
            done = true;
          } catch (again) {
            if (!isSetConflict(again)) throw again;
            await client.query(`rollback to savepoint ${SAVEPOINT}`);
          }
        }
        if (!done) {
          this.stats.fallbacks++;
          await this.runOrdered(client, shape, plan);
        }
      }
      await client.query(`release savepoint ${SAVEPOINT}`);
      this.stats.changes += f.changes;
    } catch (err) {
      const mapped = asApplyError(err, table, (err as { evId?: bigint }).evId);
      if (mapped instanceof LondisteError) {
        // The transaction stays usable for the other tables; the definition may have changed.
        await client.query(`rollback to savepoint ${SAVEPOINT}`);
        await client.query(`release savepoint ${SAVEPOINT}`);
        this.shapes.invalidate(table);
      }
      throw tagTable(mapped, table);
    }
  }

  private async exec(client: pg.ClientBase, stmt: Stmt, values: unknown[]): Promise<void> {
    await this.query(client, stmt, values);
  }

  /** One statement, prepared once per connection under a name derived from its text. */
  private async query(client: pg.ClientBase, stmt: Stmt, values: unknown[]): Promise<pg.QueryResult> {
    let name = statementNames.get(stmt.text);
    if (name === undefined) {
      name = `londiste_${createHash('sha1').update(stmt.text).digest('hex').slice(0, 24)}`;
      statementNames.set(stmt.text, name);
    }
    this.stats.statements++;
    return client.query({ name, text: stmt.text, values });
  }

  /**
   * The upsert of a table with rules, where PostgreSQL refuses ON CONFLICT (0A000): the rows
   * whose key exists are updated, the others inserted, each by a plain statement its rules
   * rewrite.
   */
  private async upsertWithRules(
    client: pg.ClientBase,
    shape: TableShape,
    key: readonly string[],
    cols: string[],
    rows: Row[],
  ): Promise<void> {
    const found = await this.query(client, setExisting(shape, key), [JSON.stringify(rows)]);
    const existing = new Set(found.rows.map((r) => (r as { ord: number }).ord - 1));
    const others = cols.filter((c) => !key.includes(c));
    const old = rows.filter((_, i) => existing.has(i));
    const fresh = rows.filter((_, i) => !existing.has(i));
    if (old.length > 0 && others.length > 0)
      await this.exec(client, setUpdate(shape, key, others), [JSON.stringify(old)]);
    if (fresh.length > 0) await this.exec(client, setInsert(shape, cols), [JSON.stringify(fresh)]);
  }

  /** COPY `data` in (copyInsert); an error from it is marked `fromCopy`. */
  private async copyIn(client: pg.ClientBase, text: string, data: string): Promise<void> {
    this.stats.statements++;
    this.stats.copies++;
    try {
      await pipeline(Readable.from([data]), client.query(copyFrom(text)));
    } catch (err) {
      throw Object.assign(err as object, { fromCopy: true });
    }
  }

  /**
   * The plan as set-based statements, their rows encoded. `copy`: the inserts of a run whose key
   * is the table's primary key go in by COPY (the caller checked the table may take them so):
   * the rows of a run are new keys or keys deleted just before, so a conflict means a key that
   * exists, and the caller writes the plan again with the upsert.
   */
  private setOps(shape: TableShape, plan: PlanStep[], copy: boolean): SetOp[] {
    const ops: SetOp[] = [];
    for (const step of plan) {
      if (step.kind === 'raw') {
        ops.push(step);
        continue;
      }
      const { key, collapsed } = step;
      const dels: Row[] = [];
      const updates = new ColumnGroups(key);
      const inserts = new ColumnGroups([]);
      for (const p of collapsed.entries) {
        if (p.action === 'delete' || p.action === 'replace') dels.push(keyRow(key, p.key));
        if (p.action === 'update') updates.add(p.row!);
        else if (p.action !== 'delete') inserts.add(p.row!);
      }
      for (const row of collapsed.keyless) inserts.add(row);

      if (dels.length > 0)
        ops.push({ kind: 'exec', stmt: setDelete(shape, key), json: JSON.stringify(dels) });
      for (const g of updates.list())
        if (g.cols.length > 0)
          ops.push({ kind: 'exec', stmt: setUpdate(shape, key, g.cols), json: JSON.stringify(g.rows) });
      const byCopy = copy && sameKey(key, shape.pkey);
      for (const g of inserts.list()) {
        if (byCopy) ops.push({ kind: 'copy', ...copyInsert(shape, g.cols, g.rows) });
        else if (shape.hasRules) ops.push({ kind: 'rules', key, cols: g.cols, rows: g.rows });
        else ops.push({ kind: 'exec', stmt: setUpsert(shape, key, g.cols), json: JSON.stringify(g.rows) });
      }
    }
    return ops;
  }

  /** Sends the statements of setOps in order. */
  private async runOps(client: pg.ClientBase, shape: TableShape, ops: SetOp[]): Promise<void> {
    for (const op of ops) {
      if (op.kind === 'exec') await this.exec(client, op.stmt, [op.json]);
      else if (op.kind === 'copy') await this.copyIn(client, op.text, op.data);
      else if (op.kind === 'rules') await this.upsertWithRules(client, shape, op.key, op.cols, op.rows);
      else await this.execRaw(client, shape, op);
    }
  }

  /** The ordered fallback: each change as its own statement, with the same per-event meaning. */
  private async runOrdered(client: pg.ClientBase, shape: TableShape, plan: PlanStep[]): Promise<void> {
    for (const step of plan) {
      if (step.kind === 'raw') {
        await this.execRaw(client, shape, step);
        continue;
      }
      const { key } = step;
      for (const ch of step.changes) {
        try {
          if (ch.op === 'D') {
            await this.exec(
              client,
              rowDelete(shape, key),
              key.map((k) => ch.row[k]),
            );
          } else if (ch.op === 'U' && !ch.oldKey) {
            const cols = Object.keys(ch.row).filter((c) => !key.includes(c));
            if (cols.length === 0) continue;
            const stmt = rowUpdate(shape, key, cols);
            await this.exec(
              client,
              stmt,
              stmt.params.map((c) => ch.row[c]),
            );
          } else {
            if (ch.oldKey) await this.exec(client, rowDelete(shape, key), ch.oldKey);
            const cols = Object.keys(ch.row);
            let stmt = rowUpsert(shape, key, cols);
            if (shape.hasRules) {
              // no ON CONFLICT on a table with rules: update the row if its key exists, else insert
              const others = cols.filter((c) => !key.includes(c));
              const found = await this.query(
                client,
                rowExists(shape, key),
                key.map((k) => ch.row[k]),
              );
              const exists = (found.rows[0] as { e?: boolean } | undefined)?.e === true;
              if (exists && others.length === 0) continue;
              stmt = exists ? rowUpdate(shape, key, others) : rowInsert(shape, cols);
            }
            await this.exec(
              client,
              stmt,
              stmt.params.map((c) => ch.row[c]),
            );
          }
        } catch (err) {
          throw Object.assign(err as object, { evId: ch.evId });
        }
      }
    }
  }

  private async execRaw(client: pg.ClientBase, shape: TableShape, step: RawStep): Promise<void> {
    this.stats.statements++;
    try {
      // The extended protocol runs exactly one statement: a fragment cannot smuggle in another.
      // (`queryMode` is pg's, missing from its type definitions.)
      const q = { text: rawStatement(shape, step.op, step.sql), values: [], queryMode: 'extended' };
      await client.query(q as pg.QueryConfig);
    } catch (err) {
      throw Object.assign(err as object, { evId: step.evId });
    }
  }
}

type Row = Record<string, string | null>;

interface ColumnGroup {
  /** The rows' columns, in their order. */
  all: string[];
  /** The columns to write: `all` without the ones left out (an update's key). */
  cols: string[];
  rows: Row[];
}

/**
 * Rows grouped by their column list, for one statement per group. Consecutive rows of one table
 * almost always carry the same columns: a row with the previous row's columns joins its group
 * without building its column list (no arrays or strings per row).
 */
class ColumnGroups {
  private readonly groups = new Map<string, ColumnGroup>();
  private last: ColumnGroup | undefined;
  private readonly leaveOut: readonly string[];

  constructor(leaveOut: readonly string[]) {
    this.leaveOut = leaveOut;
  }

  add(row: Row): void {
    const last = this.last;
    if (last && hasColumns(row, last.all)) {
      last.rows.push(row);
      return;
    }
    const all = Object.keys(row);
    const sig = all.join('\0');
    let g = this.groups.get(sig);
    if (!g) {
      const cols = this.leaveOut.length ? all.filter((c) => !this.leaveOut.includes(c)) : all;
      g = { all, cols, rows: [] };
      this.groups.set(sig, g);
    }
    g.rows.push(row);
    this.last = g;
  }

  list(): Iterable<ColumnGroup> {
    return this.groups.values();
  }
}

/** Are `cols` exactly the row's columns, in order? (Rows have no inherited properties: ROW_PROTO.) */
function hasColumns(row: Row, cols: readonly string[]): boolean {
  let i = 0;
  for (const k in row) {
    if (k !== cols[i]) return false;
    i++;
  }
  return i === cols.length;
}

/**
 * Marks a table's apply error with the table (`applyTable`): a worker that learns of it later,
 * after flushBehind, while handling another table's event, still isolates the right one.
 */
function tagTable(err: unknown, table: string): unknown {
  if (err instanceof LondisteError) Object.assign(err, { applyTable: table });
  return err;
}

/** The table an apply error names (tagTable), if it names one. */
export function failedApplyTable(err: unknown): string | undefined {
  const t = (err as { applyTable?: unknown } | null)?.applyTable;
  return typeof t === 'string' ? t : undefined;
}

interface RunStep {
  kind: 'run';
  key: readonly string[];
  changes: RowChange[];
  collapsed: Collapsed;
}
interface RawStep {
  kind: 'raw';
  evId: bigint;
  op: 'I' | 'U' | 'D';
  sql: string;
}
type PlanStep = RunStep | RawStep;

/** One statement of a set-based flush, its rows already encoded. */
type SetOp =
  | { kind: 'exec'; stmt: Stmt; json: string }
  | { kind: 'copy'; text: string; data: string }
  | { kind: 'rules'; key: readonly string[]; cols: string[]; rows: Row[] }
  | RawStep;

interface PreparedFlush {
  table: string;
  shape: TableShape;
  plan: PlanStep[];
  /** Changes (events) it writes. */
  changes: number;
  ops: SetOp[];
}

/**
 * Splits a table's changes into ordered steps: runs of row changes naming the same key (collapsed)
 * and SQL fragments (each its own step). (A column the table lacks is reported by name when the
 * statement that would write it is built, before it runs.)
 */
export function planTable(shape: TableShape, changes: readonly TableChange[]): PlanStep[] {
  const steps: PlanStep[] = [];
  // Runs are collected first and collapsed at the end: a run ends at a fragment or a key change.
  const runs: RunStep[] = [];
  let run: RunStep | null = null;
  for (const ch of changes) {
    if (ch.kind === 'sql') {
      run = null;
      steps.push({ kind: 'raw', evId: ch.evId, op: ch.op, sql: ch.sql });
      continue;
    }
    const key = ch.key ?? shape.pkey;
    if (key.length === 0) {
      throw new LondisteError(
        'apply_failed',
        `table ${shape.table}: event ${ch.evId} names no key and the table has no primary key`,
        { sqlState: '42P10' },
      );
    }
    if (run === null || !sameKey(run.key, key)) {
      run = { kind: 'run', key, changes: [], collapsed: { entries: [], keyless: [] } };
      runs.push(run);
      steps.push(run);
    }
    run.changes.push(ch);
  }
  for (const r of runs) r.collapsed = collapse(r.changes, r.key);
  return steps;
}

function sameKey(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((k, i) => k === b[i]));
}

/** Key values → a row object of the key columns. */
function keyRow(key: readonly string[], vals: readonly (string | null)[]): Row {
  const r: Row = emptyRow();
  for (let i = 0; i < key.length; i++) r[key[i]!] = vals[i] ?? null;
  return r;
}
