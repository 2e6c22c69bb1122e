// SQL text of the apply's statements. Identifiers are quoted here; values never appear in the
// text: the set-based forms take one parameter, the rows as a JSON array of objects with text
// values (json_to_recordset, then a cast to each column's type), the per-event forms one parameter
// per value. The text depends only on the table's shape and the column set, so each form is
// prepared once per connection. (JSON rather than one text[] per column: JSON.stringify of the
// rows is several times cheaper in Node than pg's array-literal encoding, and the server's JSON
// parser is as fast as its array parser — measured in test/londiste/apply-rate.runtime.test.ts.)
import { quoteIdent } from '../../db/ident.ts';
import { LondisteError } from '../errors.ts';
import type { ChangeOp } from '../events.ts';
import type { TableShape } from './shape.ts';

export interface Stmt {
  text: string;
  /**
   * Per-event forms: the columns whose values go into the parameters, in order. Set-based forms:
   * the columns each row object must carry (the one parameter is the JSON array of rows).
   */
  params: readonly string[];
}

/**
 * The type a column's text value is cast to. Only the columns a statement writes or matches are
 * looked up, as the original's SQL would name them: a DELETE does not care about a column of the
 * event's row that the destination lacks.
 */
function typeOf(shape: TableShape, col: string): string {
  const c = shape.columns.get(col);
  if (!c) {
    throw new LondisteError(
      'apply_failed',
      `table ${shape.table}, column ${col}: no such column on this node`,
      {
        sqlState: '42703',
      },
    );
  }
  return c.type;
}

/** `json_to_recordset($1::json) as s(a text, b text)`: the rows of the one parameter. */
function rowsFrom(cols: readonly string[]): string {
  return `json_to_recordset($1::json) as s(${cols.map((c) => `${quoteIdent(c)} text`).join(', ')})`;
}

const cast = (shape: TableShape, col: string, src: string) =>
  `${src}.${quoteIdent(col)}::${typeOf(shape, col)}`;

// Key types sorted before a lookup (rowsByKey): built-in types with a default btree ordering.
// A key of another type (a domain, an enum, or a type with `=` but no ordering, like xid) is
// looked up unsorted, as ORDER BY could fail on it.
const ORDERABLE = new Set(
  [
    'int2',
    'int4',
    'int8',
    'numeric',
    'float4',
    'float8',
    'oid',
    'text',
    'varchar',
    'bpchar',
    'name',
    'uuid',
    'date',
    'time',
    'timetz',
    'timestamp',
    'timestamptz',
    'interval',
    'bool',
    'bytea',
    'inet',
    'cidr',
    'macaddr',
    'jsonb',
  ].map((t) => `pg_catalog.${t}`),
);

/**
 * The rows of the one parameter in key order (each key is in them once: collapse.ts), for the
 * statements that find rows by key: the index is walked in order instead of at random, which
 * made an UPDATE of 2,500 random keys of a 1M-row table 25 % quicker (33–35 → 25 ms).
 */
function rowsByKey(shape: TableShape, key: readonly string[], cols: readonly string[]): string {
  if (!key.every((k) => ORDERABLE.has(typeOf(shape, k)))) return rowsFrom(cols);
  const order = key.map((k) => cast(shape, k, 's')).join(', ');
  return `(select * from ${rowsFrom(cols)} order by ${order}) as s`;
}

function keyJoin(shape: TableShape, key: readonly string[]): string {
  return key.map((k) => `t.${quoteIdent(k)} = ${cast(shape, k, 's')}`).join(' and ');
}

/** Deletes every row whose key is among the rows'. */
export function setDelete(shape: TableShape, key: readonly string[]): Stmt {
  return {
    text: `delete from only ${shape.quoted} as t using ${rowsByKey(shape, key, key)} where ${keyJoin(shape, key)}`,
    params: key,
  };
}

/** Sets `cols` (no key column among them) on every row whose key is among the rows'. */
export function setUpdate(shape: TableShape, key: readonly string[], cols: readonly string[]): Stmt {
  const all = [...key, ...cols];
  const set = cols.map((c) => `${quoteIdent(c)} = ${cast(shape, c, 's')}`).join(', ');
  return {
    text: `update only ${shape.quoted} as t set ${set} from ${rowsByKey(shape, key, all)} where ${keyJoin(shape, key)}`,
    params: all,
  };
}

function upsertTail(key: readonly string[], cols: readonly string[]): string {
  const others = cols.filter((c) => !key.includes(c));
  const target = key.map(quoteIdent).join(', ');
  if (others.length === 0) return ` on conflict (${target}) do nothing`;
  return (
    ` on conflict (${target}) do update set ` +
    others.map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`).join(', ')
  );
}

/** Inserts the rows (`cols` include the key); a row whose key exists is updated instead. */
export function setUpsert(shape: TableShape, key: readonly string[], cols: readonly string[]): Stmt {
  return {
    text:
      `insert into ${shape.quoted} (${cols.map(quoteIdent).join(', ')}) select ` +
      cols.map((c) => cast(shape, c, 's')).join(', ') +
      ` from ${rowsFrom(cols)}` +
      upsertTail(key, cols),
    params: cols,
  };
}

/**
 * For a table with rules (no ON CONFLICT there): the 1-based positions of the rows whose key
 * exists, so that those are updated and the others inserted by plain statements. The insert must
 * not test the table itself: a DO ALSO rule re-runs the statement's query after the insert, and
 * would then find nothing to do.
 */
export function setExisting(shape: TableShape, key: readonly string[]): Stmt {
  return {
    text:
      `select s.ord::int as ord from rows from (json_to_recordset($1::json) as (${key.map((c) => `${quoteIdent(c)} text`).join(', ')})) ` +
      `with ordinality as s(${key.map(quoteIdent).join(', ')}, ord) ` +
      `where exists (select 1 from only ${shape.quoted} as t where ${keyJoin(shape, key)})`,
    params: key,
  };
}

/** Inserts the rows (`cols` include the key), no conflict handling: see setExisting. */
export function setInsert(shape: TableShape, cols: readonly string[]): Stmt {
  return {
    text:
      `insert into ${shape.quoted} (${cols.map(quoteIdent).join(', ')}) select ` +
      cols.map((c) => cast(shape, c, 's')).join(', ') +
      ` from ${rowsFrom(cols)}`,
    params: cols,
  };
}

/**
 * The inserts of rows whose keys are new, as COPY text: the statement and the data. Values go
 * through each column's input function with its typmod, as an assigned literal does.
 */
export function copyInsert(
  shape: TableShape,
  cols: readonly string[],
  rows: readonly Record<string, string | null>[],
): { text: string; data: string } {
  for (const c of cols) typeOf(shape, c); // a column the table lacks: apply_failed, named
  const lines: string[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    let line = '';
    for (let j = 0; j < cols.length; j++) {
      const v = row[cols[j]!];
      line += (j === 0 ? '' : '\t') + (v == null ? '\\N' : copyEscape(v));
    }
    lines[i] = line;
  }
  return {
    text: `copy ${shape.quoted} (${cols.map(quoteIdent).join(', ')}) from stdin`,
    data: lines.length ? `${lines.join('\n')}\n` : '',
  };
}

const COPY_SPECIAL = /[\\\t\n\r]/;

/** COPY text format: backslash, tab, newline and carriage return escaped. */
function copyEscape(v: string): string {
  if (!COPY_SPECIAL.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

// ---- one event at a time (the ordered fallback) -------------------------------------------------

const param = (shape: TableShape, col: string, i: number) => `$${i}::${typeOf(shape, col)}`;

function keyWhere(shape: TableShape, key: readonly string[], from: number): string {
  return key.map((k, i) => `${quoteIdent(k)} = ${param(shape, k, from + i)}`).join(' and ');
}

export function rowDelete(shape: TableShape, key: readonly string[]): Stmt {
  return { text: `delete from only ${shape.quoted} where ${keyWhere(shape, key, 1)}`, params: key };
}

export function rowUpdate(shape: TableShape, key: readonly string[], cols: readonly string[]): Stmt {
  const set = cols.map((c, i) => `${quoteIdent(c)} = ${param(shape, c, i + 1)}`).join(', ');
  return {
    text: `update only ${shape.quoted} set ${set} where ${keyWhere(shape, key, cols.length + 1)}`,
    params: [...cols, ...key],
  };
}

export function rowUpsert(shape: TableShape, key: readonly string[], cols: readonly string[]): Stmt {
  return {
    text:
      `insert into ${shape.quoted} (${cols.map(quoteIdent).join(', ')}) values (` +
      cols.map((c, i) => param(shape, c, i + 1)).join(', ') +
      ')' +
      upsertTail(key, cols),
    params: cols,
  };
}

/** For a table with rules: whether the row's key exists (see setExisting). */
export function rowExists(shape: TableShape, key: readonly string[]): Stmt {
  return {
    text: `select exists (select 1 from only ${shape.quoted} where ${keyWhere(shape, key, 1)}) as e`,
    params: key,
  };
}

/** Inserts one row, no conflict handling: see setExisting. */
export function rowInsert(shape: TableShape, cols: readonly string[]): Stmt {
  return {
    text:
      `insert into ${shape.quoted} (${cols.map(quoteIdent).join(', ')}) values (` +
      cols.map((c, i) => param(shape, c, i + 1)).join(', ') +
      ')',
    params: cols,
  };
}

/** A sqltriga fragment kept as SQL, completed as the original completes it. */
export function rawStatement(shape: TableShape, op: ChangeOp, fragment: string): string {
  if (op === 'I') return `insert into ${shape.quoted} ${fragment}`;
  if (op === 'U') return `update only ${shape.quoted} set ${fragment}`;
  return `delete from only ${shape.quoted} where ${fragment}`;
}
