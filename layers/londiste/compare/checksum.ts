// The per-range figures compare computes inside PostgreSQL: row count and a checksum, the sum of
// a 64-bit hash of each row's text over the common columns in provider order (the same
// expression on both sides; both sessions render values alike, sync.ts SESSION_SETTINGS). The
// sum is numeric, so it never overflows; it is order-independent, so no sort is needed. And the
// key ranges a big table is split into: boundaries on the first key column taken from a sample
// of the provider's rows, the same condition text for both sides.
import type { Queryable } from '../../db/index.ts';
import { quoteFqname, quoteIdent } from '../../db/index.ts';
import { andWhere, type KeyColumn, quoteLiteral } from './sql-text.ts';

export interface RangeFigures {
  rows: bigint;
  /** null with count-only. */
  checksum: string | null;
}

export interface ChecksumQuery {
  table: string;
  columns: readonly string[];
  /** The handler's copy condition and --repair-where style filters ('' = none). */
  where: string;
  countOnly: boolean;
}

export function checksumSql(q: ChecksumQuery, range: string): string {
  const where = andWhere(q.where, range);
  const cols = q.columns.map(quoteIdent).join(', ');
  // row(a) of one column would be the column itself in parentheses: the same text either way.
  const sum = q.countOnly ? 'null::text' : `coalesce(sum(hashtextextended(row(${cols})::text, 0)), 0)::text`;
  return `select count(*) as n, ${sum} as sum from only ${quoteFqname(q.table)}${where ? ` where ${where}` : ''}`;
}

export async function rangeFigures(db: Queryable, q: ChecksumQuery, range: string): Promise<RangeFigures> {
  const r = await db.query<{ n: bigint | string; sum: string | null }>(checksumSql(q, range));
  return { rows: BigInt(r.rows[0]!.n), checksum: r.rows[0]!.sum };
}

/** The planner's row estimate, or a count when the table was never analyzed. */
export async function estimateRows(db: Queryable, table: string): Promise<number> {
  const r = await db.query<{ n: number }>(
    'select reltuples::float8 as n from pg_class where oid = to_regclass($1)',
    [quoteFqname(table)],
  );
  const n = Number(r.rows[0]?.n ?? -1);
  if (n >= 0) return n;
  const c = await db.query(`select count(*)::float8 as n from only ${quoteFqname(table)}`);
  return Number(c.rows[0].n);
}

/**
 * `count` ranges on the first key column: `k < b1`, `k >= b1 and k < b2`, …, `k >= bn`, boundaries
 * the quantiles of a sample (about 500 rows per range, TABLESAMPLE SYSTEM). Fewer ranges come back
 * when the sample has fewer distinct values; one range ('') when there is nothing to split on.
 */
export async function keyRanges(
  db: Queryable,
  table: string,
  key: readonly KeyColumn[],
  estimated: number,
  count: number,
): Promise<string[]> {
  const k = key[0];
  if (!k || count <= 1 || estimated <= 0) return [''];
  const want = count * 500;
  const pct = Math.min(100, (want / estimated) * 100);
  const col = quoteIdent(k.name);
  const r = await db.query<{ v: string }>(
    `select ${col}::text as v from only ${quoteFqname(table)} tablesample system (${pct.toFixed(6)}) order by ${col}`,
  );
  const sample = r.rows.map((x) => x.v);
  const bounds: string[] = [];
  for (let i = 1; i < count; i++) {
    const v = sample[Math.floor((i * sample.length) / count)];
    if (v !== undefined && bounds.at(-1) !== v) bounds.push(v);
  }
  if (bounds.length === 0) return [''];
  const lit = quoteLiteral;
  const ranges = [`${col} < ${lit(bounds[0]!)}`];
  for (let i = 1; i < bounds.length; i++)
    ranges.push(`${col} >= ${lit(bounds[i - 1]!)} and ${col} < ${lit(bounds[i]!)}`);
  ranges.push(`${col} >= ${lit(bounds.at(-1)!)}`);
  return ranges;
}
