// SQL text of the apply's statements. Identifiers are quoted here; values never appear in the
// text: the set-based forms take one text[] parameter per column (unnest, then a cast to the
// column's type), the per-event forms one parameter per value. The text depends only on the
// table's shape and the column set, so each form is prepared once per connection.
import { quoteIdent } from '../../db/ident.ts';
import type { ChangeOp } from '../events.ts';
import type { TableShape } from './shape.ts';

export interface Stmt {
  text: string;
  /** The columns whose values go into the parameters, in order. */
  params: readonly string[];
}

function typeOf(shape: TableShape, col: string): string {
  // Callers check the columns first (checkColumns); this is only the lookup.
  return shape.columns.get(col)!.type;
}

/** `unnest($1::text[], …) as s(a, b)` over the given columns. */
function unnestFrom(cols: readonly string[]): string {
  return (
    `unnest(${cols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) as s(` +
    cols.map(quoteIdent).join(', ') +
    ')'
  );
}

const cast = (shape: TableShape, col: string, src: string) =>
  `${src}.${quoteIdent(col)}::${typeOf(shape, col)}`;

function keyJoin(shape: TableShape, key: readonly string[]): string {
  return key.map((k) => `t.${quoteIdent(k)} = ${cast(shape, k, 's')}`).join(' and ');
}

/** Deletes every row whose key is in the arrays. */
export function setDelete(shape: TableShape, key: readonly string[]): Stmt {
  return {
    text: `delete from only ${shape.quoted} as t using ${unnestFrom(key)} where ${keyJoin(shape, key)}`,
    params: key,
  };
}

/** Sets `cols` (no key column among them) on every row whose key is in the arrays. */
export function setUpdate(shape: TableShape, key: readonly string[], cols: readonly string[]): Stmt {
  const all = [...key, ...cols];
  const set = cols.map((c) => `${quoteIdent(c)} = ${cast(shape, c, 's')}`).join(', ');
  return {
    text: `update only ${shape.quoted} as t set ${set} from ${unnestFrom(all)} where ${keyJoin(shape, key)}`,
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
      ` from ${unnestFrom(cols)}` +
      upsertTail(key, cols),
    params: cols,
  };
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

/** A sqltriga fragment kept as SQL, completed as the original completes it. */
export function rawStatement(shape: TableShape, op: ChangeOp, fragment: string): string {
  if (op === 'I') return `insert into ${shape.quoted} ${fragment}`;
  if (op === 'U') return `update only ${shape.quoted} set ${fragment}`;
  return `delete from only ${shape.quoted} where ${fragment}`;
}
