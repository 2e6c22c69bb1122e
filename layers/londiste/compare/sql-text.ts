// SQL text for compare and repair: literals, a table's primary key, the column list.
import type { Queryable } from '../../db/index.ts';
import { quoteLiteral as quoteDbLiteral, quoteFqname, quoteIdent } from '../../db/index.ts';

/**
 * A value's text form as an untyped literal (the db layer's quoting), NULL as `null`: it takes the
 * type of the column it is compared with or assigned to.
 */
export function quoteLiteral(v: string | null): string {
  return v === null ? 'null' : quoteDbLiteral(v);
}

export interface KeyColumn {
  name: string;
  /** Sorts and compares as an integer (int2/int4/int8): by the index, compared numerically. */
  integer: boolean;
}

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

/** The primary key's columns in key order (empty: no primary key). */
export async function primaryKey(db: Queryable, table: string): Promise<KeyColumn[]> {
  const r = await db.query<{ name: string; type: string }>(
    `select a.attname as name, format_type(a.atttypid, null) as type
       from pg_index i
       cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = to_regclass($1) and i.indisprimary
      order by k.ord`,
    [quoteFqname(table)],
  );
  return r.rows.map((c) => ({ name: c.name, integer: INTEGER_TYPES.has(c.type) }));
}

export function columnList(cols: readonly string[]): string {
  return cols.map(quoteIdent).join(', ');
}

/**
 * ORDER BY for a merge in key order that JavaScript can follow: integers by value (the index
 * order), everything else by its text in byte order (COLLATE "C"), the order compareKeyText uses.
 */
export function mergeOrder(key: readonly KeyColumn[]): string {
  return key
    .map((k) => (k.integer ? quoteIdent(k.name) : `${quoteIdent(k.name)}::text collate "C"`))
    .join(', ');
}

/** Conditions joined with AND ('' for none). */
export function andWhere(...conds: readonly (string | undefined | null)[]): string {
  const cs = conds.filter((c): c is string => !!c?.trim());
  if (cs.length === 0) return '';
  if (cs.length === 1) return cs[0]!;
  return cs.map((c) => `(${c})`).join(' and ');
}
