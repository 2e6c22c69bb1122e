// The per-range figures compare computes inside PostgreSQL: row count and a checksum, the sum (as
// numeric: no overflow; order-independent: no sort) over the rows of a 64-bit row hash. The row
// hash XORs one hash per common column, each with its column's position as seed (so swapped
// values differ), NULL as the seed itself. A column whose type is the same built-in type on both
// sides and has an exact hash is hashed from its value (measured on 1M rows: 0.43 s against
// 1.43 s for hashing the row's text, the record output being most of the cost); any other
// column by its text, which both sessions render alike (sync.ts SESSION_SETTINGS). The exact
// hashes: integers (all as int8, so int4 = int8 of the same value), text/varchar, uuid, jsonb,
// bool, timestamp, timestamptz (its stored value, UTC: one-to-one), float4/float8. Not numeric
// or interval (their hash ignores display scale / unit: 1.10 = 1.1, '1 day' = '24 hours', a
// difference Londiste's text replay would carry), not bpchar, arrays, bytea: by text.
// How a big table is split: into block chunks (a TID range scan each, PG ≥ 14), each side its
// own; only their sums compare, but they read the heap in order: a third less CPU than key
// ranges by index (1M rows in 10 parts: 0.45 s against 0.66 s per side, = one whole scan). And into key ranges, whose boundaries
// on the first key column come from a sample of the provider's rows (the same condition text for
// both sides: comparable range by range, to name the ones that differ).
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
  /** Per column its built-in type when it is the same on both sides, else null (hashed by text). */
  types?: readonly (string | null)[];
  /** The handler's copy condition and --repair-where style filters ('' = none). */
  where: string;
  countOnly: boolean;
}

/** How a value of a built-in type is hashed exactly; `$` is the column, `%` the seed. */
const TYPED_HASH: Readonly<Record<string, string>> = {
  // hashint2/4extended give hashint8extended's value of the same number (the integer hash
  // opfamily hashes across types alike), without the cast's call.
  smallint: 'hashint2extended($, %)',
  integer: 'hashint4extended($, %)',
  bigint: 'hashint8extended($, %)',
  text: 'hashtextextended($, %)',
  'character varying': 'hashtextextended($::text, %)',
  uuid: 'uuid_hash_extended($, %)',
  jsonb: 'jsonb_hash_extended($, %)',
  boolean: 'hashint4extended($::int, %)',
  'timestamp without time zone': 'timestamp_hash_extended($, %)',
  // Its stored value (microseconds from 2000-01-01 UTC, one-to-one) as a timestamp: `at time zone`
  // a constant interval only subtracts the offset (0 here) and passes the infinities through, no
  // time-zone conversion (the cast converts through the session's zone). The same hash as the
  // distance from 2000-01-01 hashed as an interval (session 7), at ~0.04 s less per 1M rows.
  'timestamp with time zone': "timestamp_hash_extended($ at time zone interval '0', %)",
  real: 'hashfloat8extended($::float8, %)',
  'double precision': 'hashfloat8extended($, %)',
};

/** The type name without its modifier: "character varying(20)" → "character varying". */
function bareType(t: string): string {
  return t.replace(/\(.*\)/, '').replace(/\s+$/, '');
}

/**
 * The row hash: per column its hash seeded by its position, XORed; a NULL counts as the seed.
 * Written as `coalesce(h1 # h2 …, coalesce(h1, 1) # coalesce(h2, 2) …)`: a row without NULLs (the
 * usual one) is hashed by the first form alone, a coalesce per column being ~20 % of the whole
 * expression's cost (0.36 → 0.28 s CPU per 1M rows of the bench's row); a NULL anywhere makes it
 * NULL (the functions are strict), and then the second form hashes it. Same value either way.
 */
export function rowHashSql(columns: readonly string[], types: readonly (string | null)[] = []): string {
  const hashes = columns.map((c, i) => {
    const typed = types[i] ? TYPED_HASH[bareType(types[i]!)] : undefined;
    return (typed ?? 'hashtextextended($::text, %)')
      .replaceAll('$', quoteIdent(c))
      .replaceAll('%', String(i + 1));
  });
  const nullSafe = hashes.map((h, i) => `coalesce(${h}, ${i + 1})`).join(' # ');
  return hashes.length ? `coalesce(${hashes.join(' # ')}, ${nullSafe})` : nullSafe;
}

export function checksumSql(q: ChecksumQuery, range: string): string {
  const where = andWhere(q.where, range);
  const sum = q.countOnly ? 'null::text' : `coalesce(sum(${rowHashSql(q.columns, q.types)}), 0)::text`;
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
 * `count` conditions on ctid that cover the table's blocks once each (`ctid < '(b1,0)'`, …,
 * `ctid >= '(bn,0)'`: the last one open, so rows in blocks added after the size was read still
 * count once). null when the server has no TID range scan (before 14): each chunk would read the
 * whole table. [''] for a table too small to split.
 */
export async function blockChunks(db: Queryable, table: string, count: number): Promise<string[] | null> {
  const r = await db.query<{ ok: boolean; blocks: string }>(
    `select current_setting('server_version_num')::int >= 140000 as ok,
            pg_relation_size(to_regclass($1)) / current_setting('block_size')::int as blocks`,
    [quoteFqname(table)],
  );
  if (!r.rows[0]?.ok) return null;
  const blocks = Number(r.rows[0].blocks ?? 0);
  const n = Math.min(count, blocks);
  if (n <= 1) return [''];
  const b = Array.from({ length: n - 1 }, (_, i) => Math.floor(((i + 1) * blocks) / n));
  const tid = (x: number) => `'(${x},0)'::tid`;
  return [
    `ctid < ${tid(b[0]!)}`,
    ...b.slice(1).map((x, i) => `ctid >= ${tid(b[i]!)} and ctid < ${tid(x)}`),
    `ctid >= ${tid(b.at(-1)!)}`,
  ];
}

/**
 * The values (text) of column `col` (quoted) in a sample of ~pct % of the table, in its order:
 * TABLESAMPLE SYSTEM (whole pages, cheap on any size), drawn again by BERNOULLI (rows, every page
 * read) when the pages drawn held fewer than `minRows` values (0: never) — a small table's few
 * pages were often all missed, and the table then went as one window.
 */
export async function sampleKeys(
  db: Queryable,
  table: string,
  col: string,
  pct: number,
  minRows: number,
): Promise<string[]> {
  let rows: string[] = [];
  for (const method of ['system', 'bernoulli']) {
    const r = await db.query<{ v: string }>(
      `select ${col}::text as v from only ${quoteFqname(table)} tablesample ${method} (${pct.toFixed(6)}) order by ${col}`,
    );
    rows = r.rows.map((x) => x.v);
    if (rows.length >= minRows) break;
  }
  return rows;
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
  const sample = await sampleKeys(db, table, col, pct, 0);
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
