// Repair's first pass over a table with a single integer key: per window of the key (a range
// at quantiles of a sample, ~WINDOW_ROWS rows) each side sends one line per bucket of ~16
// consecutive key values — `key / width`, its row count and the sum of its row hashes — and only
// the buckets whose lines differ are then merged row by row (repair.ts). With 1 % of the rows
// drifted at random that is ~15 % of the rows (6 % for the bench's drift, which comes in
// pairs of neighbouring keys); an equal table is not merged at all.
// Why: the row-by-row stream of every key and hash cost each backend about what this grouping
// does (~0.9 s per 1M rows, measured: per-row COPY output ≈ a hash aggregate of 8-row groups),
// but Node had to take in and split 2M lines (~1 s of CPU on the one thread, the
// bottleneck of the whole repair); here it takes ~250k short lines.
// A bucket is a range of key values, so both sides group the same keys together whatever their
// physical order; the windows bound the aggregate's hash table (work_mem) and what this process
// holds (one window's buckets per side) for any table size.
import type { Readable } from 'node:stream';
import type { Queryable } from '../../db/index.ts';
import { quoteFqname, quoteIdent } from '../../db/index.ts';
import { rowHashSql, sampleKeys } from './checksum.ts';
import { CopyLines } from './copy-text.ts';
import { andWhere, quoteLiteral } from './sql-text.ts';

/**
 * Rows per bucket aimed at: few enough that a drifted row drags few equal ones into the merge,
 * enough that the lines stay few (per bucket: an aggregate group and a line for this process to
 * read; per merged row: a row of each side's stream). 16 against 8 on the 1M-row bench, same
 * run: CPU of command + backends 3.4–4.5 s against 4.0–4.6 s (noisy, load 10).
 */
export const ROWS_PER_BUCKET = 16;
/** Rows per window of the key: ~6k buckets each, a hash table that stays in memory. */
export const WINDOW_ROWS = 50_000;

export interface BucketQuery {
  table: string;
  /** The single integer key column. */
  key: string;
  columns: readonly string[];
  types: readonly (string | null)[];
  /** The handler's copy condition and --repair-where ('' = none). */
  where: string;
}

/** The bucket of a row: integer division, the same on both sides for the same key value. */
export function bucketExpr(key: string, width: bigint): string {
  return `(${quoteIdent(key)}::int8 / ${width})`;
}

export interface KeyWindow {
  /** The condition on the key ('' = every row). */
  where: string;
  /** Key values per bucket in this window. */
  width: bigint;
}

/** Windows per table: enough that each window's bucket width follows the key's local density. */
const MAX_WINDOWS = 256;

/**
 * The key split into windows of ~WINDOW_ROWS rows at quantiles of a sample (TABLESAMPLE SYSTEM,
 * ~500 rows per window), each with the bucket width that puts ~ROWS_PER_BUCKET of its rows into
 * one bucket: from its own span where it is bounded, its neighbour's for the two open ends (so
 * outlying keys, e.g. a few rows far above the rest, get narrow buckets, not the whole span's).
 * One window over [min, max] when the sample has nothing to split on. Skew within a window only
 * makes some buckets fuller (more rows merged when they differ), never a wrong result.
 */
export async function keyWindows(
  db: Queryable,
  table: string,
  key: string,
  estimated: number,
  span: { min: bigint; max: bigint },
  windowRows = WINDOW_ROWS,
): Promise<KeyWindow[]> {
  const count = Math.min(MAX_WINDOWS, Math.max(1, Math.ceil(estimated / windowRows)));
  const whole = [{ where: '', width: widthOf(span.max - span.min + 1n, estimated) }];
  if (count <= 1) return whole;
  const pct = Math.min(100, ((count * 500) / Math.max(estimated, 1)) * 100);
  const k = quoteIdent(key);
  const sample = (await sampleKeys(db, table, k, pct, count * 50)).map((v) => BigInt(v));
  const bounds: bigint[] = [];
  for (let i = 1; i < count; i++) {
    const v = sample[Math.floor((i * sample.length) / count)];
    if (v !== undefined && (bounds.length === 0 || bounds.at(-1)! < v)) bounds.push(v);
  }
  if (bounds.length < 2) return whole;
  const rows = estimated / (bounds.length + 1);
  const inner = bounds.slice(1).map((b, i) => ({
    where: `${k} >= ${bounds[i]} and ${k} < ${b}`,
    width: widthOf(b - bounds[i]!, rows),
  }));
  return [
    { where: `${k} < ${bounds[0]}`, width: inner[0]!.width },
    ...inner,
    { where: `${k} >= ${bounds.at(-1)}`, width: inner.at(-1)!.width },
  ];
}

/** Key values per bucket for `rows` rows over `span` key values (≥ 1). */
export function widthOf(span: bigint, rows: number): bigint {
  if (rows <= 0 || span <= 0n) return 1n;
  const w = (span * BigInt(ROWS_PER_BUCKET)) / BigInt(Math.ceil(rows));
  return w < 1n ? 1n : w;
}

/** The key's smallest and largest value on one side (index ends), or null for no rows. */
export async function keySpan(
  db: Queryable,
  table: string,
  key: string,
  where: string,
): Promise<{ min: bigint; max: bigint } | null> {
  const k = quoteIdent(key);
  const r = await db.query<{ lo: string | null; hi: string | null }>(
    `select min(${k})::text as lo, max(${k})::text as hi from only ${quoteFqname(table)}${where ? ` where ${where}` : ''}`,
  );
  const { lo, hi } = r.rows[0] ?? { lo: null, hi: null };
  return lo === null || hi === null ? null : { min: BigInt(lo), max: BigInt(hi) };
}

export function bucketSql(q: BucketQuery, window: KeyWindow): string {
  const where = andWhere(q.where, window.where);
  return (
    `copy (select ${bucketExpr(q.key, window.width)}, count(*), sum(${rowHashSql(q.columns, q.types)}) ` +
    `from only ${quoteFqname(q.table)}${where ? ` where ${where}` : ''} group by 1) to stdout`
  );
}

export interface WindowBuckets {
  /** bucket → "count\tsum" as the server printed them. */
  lines: Map<string, string>;
  rows: number;
}

/** One side's buckets of one window (`sql`: bucketSql, hashBucketSql). `copy` runs a COPY TO STDOUT on the connection. */
export async function readBuckets(copy: (sql: string) => Readable, sql: string): Promise<WindowBuckets> {
  const lines = new CopyLines(copy(sql));
  const out = new Map<string, string>();
  let rows = 0;
  for (;;) {
    if (lines.needsFill) await lines.fill();
    const l = lines.current;
    if (l === null) break;
    const tab = l.indexOf('\t');
    const rest = l.slice(tab + 1);
    out.set(l.slice(0, tab), rest);
    rows += Number(rest.slice(0, rest.indexOf('\t')));
    lines.advance();
  }
  return { lines: out, rows };
}

/** Buckets whose count or sum differ, or that only one side has; in ascending order. */
export function differingBuckets(p: WindowBuckets, s: WindowBuckets): bigint[] {
  const out: bigint[] = [];
  for (const [b, v] of p.lines) if (s.lines.get(b) !== v) out.push(BigInt(b));
  for (const b of s.lines.keys()) if (!p.lines.has(b)) out.push(BigInt(b));
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

/**
 * The key values of these buckets (ascending) as closed ranges, adjacent ones joined: `k / w` truncates
 * toward zero, so bucket b > 0 is [b·w, b·w + w − 1], b < 0 is [b·w − w + 1, b·w] and 0 is
 * [−w + 1, w − 1].
 */
export function bucketRanges(width: bigint, buckets: readonly bigint[]): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const b of buckets) {
    let lo = b > 0n ? b * width : b < 0n ? b * width - width + 1n : -width + 1n;
    let hi = b > 0n ? b * width + width - 1n : b < 0n ? b * width : width - 1n;
    if (lo < INT8_MIN) lo = INT8_MIN;
    if (hi > INT8_MAX) hi = INT8_MAX;
    const last = out.at(-1);
    if (last && lo <= last[1] + 1n) last[1] = hi > last[1] ? hi : last[1];
    else out.push([lo, hi]);
  }
  return out;
}

/** Column names of the ranges' relation: none of a user's table can be called that. */
const LO = '"skytools repair lo"';
const HI = '"skytools repair hi"';

/**
 * FROM for the rows of these key ranges of `table` under `cond` (the handler's condition and
 * --repair-where): one index range scan per range (a lateral subquery kept apart by `offset 0`),
 * so only those rows are read. `cond` is applied inside, on the table itself, so that it may name
 * `column`, `table.column` or `schema.table.column` as on the whole merge's path. Left to itself
 * the planner once took a parallel scan of the whole window joined against every range (3 s, not
 * 6 ms).
 */
export function rangesFrom(
  table: string,
  key: string,
  ranges: readonly [bigint, bigint][],
  cond = '',
): string {
  const los = ranges.map((r) => r[0]).join(',');
  const his = ranges.map((r) => r[1]).join(',');
  return (
    `unnest('{${los}}'::int8[], '{${his}}'::int8[]) as "skytools repair ranges"(${LO}, ${HI})` +
    ` cross join lateral (select * from only ${quoteFqname(table)}` +
    ` where ${andWhere(`${quoteIdent(key)} between ${LO} and ${HI}`, cond)} offset 0) as ${quoteIdent(table.slice(table.indexOf('.') + 1))}`
  );
}

// Any other key (text, uuid, composite) whose first column both sides order alike: windows of
// the first key column's index order at quantiles of a sample (`k >= lo and k < hi`, the
// column's own type and collation, so each window is an index range scan), and within a window
// buckets by the hash of the whole key (`keyhash & mask`, ~ROWS_PER_BUCKET rows each): both
// sides put the same keys in the same bucket whatever their physical order. A differing
// bucket's rows come from the window's range again, filtered by bucket. Only when both sides
// order the first key column alike may the windows be conditions on it: an integer, a type
// without collation that is the same on both sides, or a collatable one whose collation is C
// (or POSIX) on both sides — any other collation could order the two servers' rows differently
// (glibc versions), and a row in different windows on the two sides would be fixed twice.

export interface HashWindow {
  /** The condition on the first key column ('' = every row). */
  where: string;
  /** Buckets in this window − 1 (a power of two − 1): `keyhash & mask`. */
  mask: bigint;
}

/**
 * The first key column's collation, when it orders by bytes or has none: 'C' / 'POSIX' / ''
 * (not collatable); null for any other (a libc or ICU locale, or an ICU default).
 */
export async function byteOrderCollation(
  db: Queryable,
  table: string,
  column: string,
): Promise<string | null> {
  const r = await db.query<{ coll: string | null }>(
    `select case when a.attcollation = 0 then ''
                 when c.collname <> 'default' then c.collname
                 when coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' then d.datcollate::text
            end as coll
       from pg_attribute a
       left join pg_collation c on c.oid = a.attcollation
       cross join pg_database d
      where a.attrelid = to_regclass($1) and a.attname = $2 and d.datname = current_database()`,
    [quoteFqname(table), column],
  );
  const coll = r.rows[0]?.coll;
  return coll === '' || coll === 'C' || coll === 'POSIX' ? coll : null;
}

/** Buckets per window: the power of two that puts ~ROWS_PER_BUCKET rows in one. */
function maskFor(rows: number): bigint {
  let n = 1n;
  while (n * BigInt(ROWS_PER_BUCKET) < rows && n < 1n << 20n) n <<= 1n;
  return n - 1n;
}

/**
 * The first key column split into windows of ~windowRows rows at quantiles of a sample of the
 * provider (TABLESAMPLE SYSTEM, ~500 rows per window, sorted by the server in the column's own
 * order), the bounds as untyped literals (they take the column's type). One window when the
 * table is small or the sample has nothing to split on.
 */
export async function hashWindows(
  db: Queryable,
  table: string,
  key: string,
  estimated: number,
  windowRows = WINDOW_ROWS,
): Promise<HashWindow[]> {
  const count = Math.min(MAX_WINDOWS, Math.max(1, Math.ceil(estimated / windowRows)));
  if (count <= 1) return [{ where: '', mask: maskFor(estimated) }];
  const pct = Math.min(100, ((count * 500) / Math.max(estimated, 1)) * 100);
  const k = quoteIdent(key);
  const sample = await sampleKeys(db, table, k, pct, count * 50);
  const bounds: string[] = [];
  for (let i = 1; i < count; i++) {
    const v = sample[Math.floor((i * sample.length) / count)];
    if (v !== undefined && bounds.at(-1) !== v) bounds.push(v);
  }
  if (bounds.length === 0) return [{ where: '', mask: maskFor(estimated) }];
  const mask = maskFor(estimated / (bounds.length + 1));
  const lit = (v: string) => quoteLiteral(v);
  return [
    { where: `${k} < ${lit(bounds[0]!)}`, mask },
    ...bounds.slice(1).map((b, i) => ({ where: `${k} >= ${lit(bounds[i]!)} and ${k} < ${lit(b)}`, mask })),
    { where: `${k} >= ${lit(bounds.at(-1)!)}`, mask },
  ];
}

export interface HashBucketQuery {
  table: string;
  /** The key's columns and their types (null: hashed by text). */
  key: readonly string[];
  keyTypes: readonly (string | null)[];
  columns: readonly string[];
  types: readonly (string | null)[];
  where: string;
}

/** A row's bucket in a window: the key's hash (compare's row hash over the key) masked. */
export function hashBucketExpr(q: HashBucketQuery, mask: bigint): string {
  return `((${rowHashSql(q.key, q.keyTypes)}) & ${mask})`;
}

export function hashBucketSql(q: HashBucketQuery, w: HashWindow): string {
  const where = andWhere(q.where, w.where);
  return (
    `copy (select ${hashBucketExpr(q, w.mask)}, count(*), sum(${rowHashSql(q.columns, q.types)}) ` +
    `from only ${quoteFqname(q.table)}${where ? ` where ${where}` : ''} group by 1) to stdout`
  );
}

/** The condition for the rows of these buckets of a window (with the window's and the table's). */
export function hashBucketWhere(q: HashBucketQuery, w: HashWindow, buckets: readonly bigint[]): string {
  return andWhere(q.where, w.where, `${hashBucketExpr(q, w.mask)} = any('{${buckets.join(',')}}'::int8[])`);
}
