// What replay asks of a table's handler, per batch: prepare, one event at a time in order, flush
// (before anything that must see the changes: a TRUNCATE, an EXECUTE, the batch's end), finish.
import type pg from 'pg';
import type { CascadeBatch } from '../cascade/worker.ts';
import { quoteFqname, quoteIdent } from '../db/ident.ts';
import type { PgqEvent } from '../pgq/consumer.ts';
import type { Logger } from '../util/log.ts';
import { LondisteError } from './errors.ts';
import type { TableState } from './table-state.ts';
import { dbUrldecode } from './urlenc.ts';

export interface ReplayHandler {
  readonly ignoreTruncate: boolean;
  prepareBatch(batch: CascadeBatch, local: pg.ClientBase): Promise<void>;
  processEvent(ev: PgqEvent, local: pg.ClientBase): Promise<void>;
  flush(local: pg.ClientBase): Promise<void>;
  finishBatch(batch: CascadeBatch, local: pg.ClientBase): Promise<void>;
  copyCondition(): string | null;
  /** The table's structure may have changed (after EXECUTE). */
  invalidate?(): void;
}

/** Statement per event, in order (the original's semantics). */
class StatementHandler implements ReplayHandler {
  readonly ignoreTruncate: boolean;
  private readonly dest: string;
  private pending: string[] = [];
  private params: unknown[] = [];

  constructor(t: TableState) {
    this.dest = quoteFqname(t.destTable);
    this.ignoreTruncate = false;
  }

  async prepareBatch() {}
  async finishBatch() {}
  copyCondition() {
    return null;
  }

  async processEvent(ev: PgqEvent, local: pg.ClientBase) {
    const type = ev.type ?? '';
    if (type.length === 1) {
      const fmt = { I: 'insert into %s %s', U: 'update only %s set %s', D: 'delete from only %s where %s' }[type];
      if (!fmt) throw new LondisteError('bad_event', `event ${ev.id}: bad type ${type}`);
      await local.query(fmt.replace('%s', this.dest).replace('%s', ev.data ?? ''));
      return;
    }
    const op = type[0];
    const pk = type.slice(2).split(',');
    const row = dbUrldecode(ev.data ?? '');
    const cols = Object.keys(row);
    const vals = cols.map((c) => row[c]);
    if (op === 'I') {
      await local.query(
        `insert into ${this.dest} (${cols.map(quoteIdent).join(', ')}) values (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
        vals,
      );
    } else if (op === 'U') {
      const set = cols.filter((c) => !pk.includes(c));
      const p: unknown[] = [];
      const setSql = set.map((c) => {
        p.push(row[c]);
        return `${quoteIdent(c)} = $${p.length}`;
      });
      const where = pk.map((c) => {
        p.push(row[c]);
        return `${quoteIdent(c)} = $${p.length}`;
      });
      if (setSql.length) await local.query(`update only ${this.dest} set ${setSql.join(', ')} where ${where.join(' and ')}`, p);
    } else if (op === 'D') {
      const p = pk.map((c) => row[c]);
      await local.query(`delete from only ${this.dest} where ${pk.map((c, i) => `${quoteIdent(c)} = $${i + 1}`).join(' and ')}`, p);
    } else {
      throw new LondisteError('bad_event', `event ${ev.id}: bad type ${type}`);
    }
    void this.pending;
    void this.params;
  }

  async flush() {}
}

export function makeReplayHandler(t: TableState, _log: Logger): ReplayHandler {
  return new StatementHandler(t);
}
