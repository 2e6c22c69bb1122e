// SQL text for compare and repair: literals, a table's primary key, the column list.
import type { Queryable } from '../../db/index.ts';
import { quoteFqname, quoteIdent } from '../../db/index.ts';

/**
 * A string literal for any value's text form (standard_conforming_strings on, as PostgreSQL has
 * it by default): quotes doubled, backslashes as they are. Untyped, so it takes the type of the
 * column it is compared with or assigned to. Text cannot contain NUL, so nothing else needs escaping.
 */
export function quoteLiteral(v: string | null): string {
  if (v === null) return 'null';
  return `'${v.replaceAll("'", "''")}'`;
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
