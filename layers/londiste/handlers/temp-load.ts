// The bulk load of one destination table, as the original's bulk handler and dispatch's
// load_mode=bulk do it: a batch's rows collected per key (collect.ts), then a few statements for
// the whole batch through a session-long temp table `<schema>_<table>_loadertmp` (`like` the
// destination) instead of one statement per event. Rows travel as one JSON parameter of text
// values cast to each column's type (as apply/statements.ts), where the original COPYs them.
//
// Methods (the original's numbers):
//   0 correct  inserts straight into the table; updates: rows into the temp table, one
//              UPDATE … FROM it; deletes: rows into the temp table, one DELETE … USING it
//   1 delete   as 0, but updates as DELETE … USING temp + INSERT … SELECT FROM temp
//   2 merged   as 1, with the inserts loaded together with the updates (an insert of a key
//              that exists replaces the row)
//   3 insert   inserts straight into the table; any other operation is an error (dispatch only)
// With 0, an update of a missing row changes nothing and an insert of an existing key fails (the
// table is then isolated, as the original stops); with 1 and 2 an update of a missing row
// inserts it. Count mismatches are logged as warnings, as the original does.
import type pg from 'pg';
import { quoteFqname, quoteIdent } from '../../db/ident.ts';
import type { Logger } from '../../util/log.ts';
import { asApplyError } from '../apply/errors.ts';
import { readShape, type TableShape } from '../apply/shape.ts';
import { LondisteError } from '../errors.ts';
import type { ChangeOp, Row } from '../events.ts';
import { type Collected, KeyCollector } from './collect.ts';

export type BulkMethod = 0 | 1 | 2 | 3;

export const BULK_METHODS: readonly string[] = ['0', '1', '2', '3'];

export interface TempLoadOptions {
  method: BulkMethod;
  /** Warn when DELETE/UPDATE touched a different number of rows than asked (bulk; dispatch direct). */
  checkCounts: boolean;
  /** ANALYZE the temp table after loading it (dispatch's analyze=1). */
  analyze?: boolean;
}

/** One destination table's bulk loader; lives as long as its handler (the temp table per session). */
export class TempLoader {
  private readonly collector: KeyCollector;
  private shape: TableShape | null = null;
  private readonly temp: string;
  readonly table: string;
  private readonly o: TempLoadOptions;

  constructor(table: string, key: readonly string[], o: TempLoadOptions) {
    this.table = table;
    this.o = o;
    if (key.length === 0)
      throw new LondisteError('apply_failed', `table ${table}: non-pk tables not supported by bulk loading`);
    this.collector = new KeyCollector(key);
    this.temp = `${table.replace('.', '_')}_loadertmp`;
  }

  process(op: ChangeOp, row: Row): void {
    if (this.o.method === 3 && op !== 'I')
      throw new LondisteError('apply_failed', `table ${this.table}: ${op} not supported by method insert`);
    this.collector.add(op, row);
  }

  get pending(): number {
    return this.collector.size;
  }

  reset(): void {
    this.collector.clear();
  }

  /** Forgets the table's shape (after DDL). */
  invalidate(): void {
    this.shape = null;
  }

  async flush(client: pg.ClientBase, log: Logger): Promise<void> {
    if (this.collector.size === 0) return;
    const data = this.collector.collect();
    const fields = this.collector.fields;
    this.collector.clear();
    await client.query('savepoint londiste_bulk');
    try {
      // Read per flush, not cached: an EXECUTE between batches may have changed the table.
      this.shape = await readShape(client, this.table);
      await this.load(client, log, data, fields);
      await client.query('release savepoint londiste_bulk');
    } catch (err) {
      const mapped = asApplyError(err, this.table);
      if (mapped instanceof LondisteError) {
        await client.query('rollback to savepoint londiste_bulk');
        await client.query('release savepoint londiste_bulk');
        this.shape = null;
      }
      throw mapped;
    }
  }

  private async load(client: pg.ClientBase, log: Logger, data: Collected, fields: string[]): Promise<void> {
    const shape = this.shape as TableShape;
    const key = [...this.collector.key];
    const nonKey = fields.filter((f) => !key.includes(f));
    const qt = shape.quoted;
    const qtemp = quoteIdent(this.temp);
    const where = key.map((k) => `${qt}.${quoteIdent(k)} = t.${quoteIdent(k)}`).join(' and ');
    const cols = fields.map(quoteIdent).join(', ');
    log.debug('bulk flush', {
      table: this.table,
      inserts: data.I.length,
      updates: data.U.length,
      deletes: data.D.length,
    });
    let tempUsed = false;
    const toTemp = async (rows: Row[]) => {
      if (!tempUsed) await this.ensureTemp(client, fields);
      else await client.query(`truncate ${qtemp}`);
      tempUsed = true;
      await this.insertRows(client, qtemp, fields, rows);
      if (this.o.analyze) await client.query(`analyze ${qtemp}`);
    };
    const mismatch = (what: string, expected: number, got: number | null) => {
      if (this.o.checkCounts && expected !== got)
        log.warn(`${what} mismatch`, { table: this.table, expected, got: got ?? 0 });
    };

    if (data.D.length > 0) {
      await toTemp(data.D);
      const r = await client.query(`delete from only ${qt} using ${qtemp} as t where ${where}`);
      mismatch('delete', data.D.length, r.rowCount);
    }
    const realUpdates = data.U.length;
    const updates = this.o.method === 2 ? [...data.U, ...data.I] : data.U;
    // Method 0 has nothing to update in a table of key columns only; 1 and 2 still insert the rows.
    if (updates.length > 0 && (nonKey.length > 0 || this.o.method !== 0)) {
      await toTemp(updates);
      if (this.o.method === 0) {
        const set = nonKey.map((c) => `${quoteIdent(c)} = t.${quoteIdent(c)}`).join(', ');
        const r = await client.query(`update only ${qt} set ${set} from ${qtemp} as t where ${where}`);
        mismatch('update', updates.length, r.rowCount);
      } else {
        const r = await client.query(`delete from only ${qt} using ${qtemp} as t where ${where}`);
        mismatch('update', realUpdates, r.rowCount);
        await client.query(`insert into ${qt} (${cols}) select ${cols} from ${qtemp}`);
      }
    }
    if (data.I.length > 0 && this.o.method !== 2) await this.insertRows(client, qt, fields, data.I);
    if (tempUsed) await client.query(`truncate ${qtemp}`);
  }

  /**
   * The session's temp table, created `like` the destination the first time — and again when
   * the destination gained a column since (an EXECUTE; the original's long-lived temp table
   * would then fail for good).
   */
  private async ensureTemp(client: pg.ClientBase, fields: readonly string[]): Promise<void> {
    const qtemp = quoteIdent(this.temp);
    const r = await client.query<{ cols: string[] }>(
      `select array(select a.attname::text from pg_catalog.pg_attribute a
                     where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as cols
         from pg_catalog.pg_class c
        where c.relname = $1 and c.relnamespace = pg_catalog.pg_my_temp_schema()`,
      [this.temp],
    );
    const have = r.rows[0]?.cols;
    if (have && fields.every((f) => have.includes(f))) {
      await client.query(`truncate ${qtemp}`);
      return;
    }
    if (have) await client.query(`drop table ${qtemp}`);
    await client.query(
      `create temp table ${qtemp} (like ${quoteFqname(this.table)}) on commit preserve rows`,
    );
  }

  private async insertRows(client: pg.ClientBase, target: string, fields: string[], rows: Row[]) {
    const shape = this.shape as TableShape;
    const casts = fields.map((f) => {
      const c = shape.columns.get(f);
      if (!c)
        throw new LondisteError(
          'apply_failed',
          `table ${this.table}, column ${f}: no such column on this node`,
          {
            sqlState: '42703',
          },
        );
      return `s.${quoteIdent(f)}::${c.type}`;
    });
    const defs = fields.map((f) => `${quoteIdent(f)} text`).join(', ');
    const rowsJson = JSON.stringify(
      rows.map((r) => Object.fromEntries(fields.map((f) => [f, r[f] ?? null]))),
    );
    await client.query(
      `insert into ${target} (${fields.map(quoteIdent).join(', ')})
       select ${casts.join(', ')} from json_to_recordset($1::json) as s(${defs})`,
      [rowsJson],
    );
  }
}
