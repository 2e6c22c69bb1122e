// How a big table is cut into primary-key ranges for a parallel copy (parallel.ts): how many
// streams its size is worth (pg_class.reltuples, else a block sample), and the range boundaries
// as key quantiles of a block sample (TABLESAMPLE SYSTEM reads a few pages, not the table).
//
// The ranges always cover the whole key space — the first is open below, the last open above, each
// boundary belongs to the range it starts — so a poor sample only makes the streams unequal, never
// loses or doubles a row. Boundaries are compared as row values `(a, b) >= (x, y)` in the key's
// own types and collations, which is the primary key index's order: any key type with a btree
// order works (integers, text, uuids, composites), and each range is an index range scan.
import type { Queryable } from '../../db/index.ts';
import { quoteFqname, quoteIdent } from '../../db/index.ts';
import { quoteLiteral } from './structure.ts';

/**
 * COPY streams per table copy by default: one. A single stream loads in the transaction that
 * emptied the table, so its rows go in frozen (COPY FREEZE) and no VACUUM or hint-bit pass
 * follows; several streams cannot have that. On the 2-core bench machine 2 streams took 0.86–0.94×
 * the time of one while its disk was slow (load 12–21), but 1.05–1.27× once it was fast
 * (bench/README.md, "parallel copy", session 14): one stream already kept both cores busy.
 * Servers with cores to spare for a big table set copy_streams.
 */
export const DEFAULT_COPY_STREAMS = 1;

/** Rows per stream below which a table is not split further (bench/README.md, parallel copy). */
export const DEFAULT_MIN_ROWS_PER_STREAM = 250_000;

export interface KeyColumn {
  name: string;
  /** format_type(), for the boundary literals' casts. */
  type: string;
}

export interface RangePlan {
  /** The primary key (empty: none, one stream). */
  key: KeyColumn[];
  /** The provider's row estimate the decision was made on (null: unknown). */
  estimatedRows: number | null;
  /** One SQL condition per stream ('' = the whole table: a single stream). */
  conditions: string[];
  /** Why the table gets fewer streams than asked for (for the log). */
  reason?: string;
}

export interface PlanOptions {
  /** Streams wanted (the setting). */
  streams: number;
  /** Each stream gets at least this many rows, by the estimate (below: fewer streams). */
  minRowsPerStream: number;
  /** Sampled keys per stream at least (default 200). */
  samplePerStream?: number;
}

/** The table's primary key columns in key order (none: []). */
export async function readPrimaryKey(client: Queryable, table: string): Promise<KeyColumn[]> {
  const r = await client.query<{ name: string; type: string }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type
       from pg_index i
       cross join lateral unnest(i.indkey) with ordinality k(attnum, pos)
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = to_regclass($1) and i.indisprimary
      order by k.pos`,
    [quoteFqname(table)],
  );
  return r.rows;
}

/** Decides the streams and their ranges for the provider table. */
export async function planRanges(client: Queryable, table: string, o: PlanOptions): Promise<RangePlan> {
  const want = Math.max(1, Math.floor(o.streams));
  const est = await client.query<{ reltuples: number; pages: number }>(
    `select c.reltuples::float8 as reltuples,
            (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 as pages
       from pg_class c where c.oid = to_regclass($1)`,
    [quoteFqname(table)],
  );
  const reltuples = est.rows[0]?.reltuples ?? -1;
  const pages = est.rows[0]?.pages ?? 0;
  let estimatedRows: number | null = reltuples >= 0 ? reltuples : null;
  const single = (reason: string, key: KeyColumn[] = []): RangePlan => ({
    key,
    estimatedRows,
    conditions: [''],
    reason,
  });
  if (want === 1) return single('one stream configured');
  const key = await readPrimaryKey(client, table);
  if (key.length === 0) return single('no primary key');
  // Never analyzed (reltuples -1): the sample below tells the size; a table of a page or two is small.
  if (estimatedRows === null && pages < 2) return single('empty or tiny table', key);
  if (estimatedRows !== null && streamsFor(estimatedRows, want, o.minRowsPerStream) === 1)
    return single(`about ${Math.round(estimatedRows)} rows: too small to split`, key);

  // Whole blocks are sampled, and rows of one block are neighbours in a table loaded in key
  // order: enough blocks (64 per stream) matter more than enough rows (200 per stream).
  const rowsPct =
    estimatedRows !== null && estimatedRows > 0
      ? (100 * (o.samplePerStream ?? 200) * want) / estimatedRows
      : 0;
  const pagesPct = (100 * 64 * want) / Math.max(1, pages);
  const percent = Math.min(100, Math.max(0.0001, rowsPct, pagesPct));
  const cols = key.map((k) => quoteIdent(k.name)).join(', ');
  const sample = await client.query<Record<string, string>>(
    `select ${key.map((k, i) => `${quoteIdent(k.name)}::text as k${i}`).join(', ')}
             from only ${quoteFqname(table)} tablesample system (${percent.toFixed(6)})
      order by ${cols}`,
  );
  const keys = sample.rows.map((row) => key.map((_, i) => row[`k${i}`] as string));
  if (estimatedRows === null) estimatedRows = (keys.length * 100) / percent;
  const n = Math.min(streamsFor(estimatedRows, want, o.minRowsPerStream), keys.length);
  if (n <= 1) return single(`about ${Math.round(estimatedRows)} rows: too small to split`, key);
  const bounds = quantiles(keys, n);
  if (bounds.length === 0) return single('sample found no distinct keys', key);
  return {
    key,
    estimatedRows,
    conditions: rangeConditions(key, bounds),
    ...(bounds.length + 1 < want ? { reason: `${bounds.length + 1} streams for its size` } : {}),
  };
}

/** Streams a table of `rows` rows is worth: each at least minRows, at most `want`. */
export function streamsFor(rows: number, want: number, minRows: number): number {
  if (minRows <= 0) return want;
  return Math.max(1, Math.min(want, Math.floor(rows / minRows)));
}

/**
 * The n-1 boundaries splitting a sorted sample into n parts of equal size, repeated keys removed
 * (a boundary equal to the one before would make an empty range).
 */
export function quantiles(sorted: readonly (readonly string[])[], n: number): string[][] {
  const out: string[][] = [];
  for (let i = 1; i < n; i++) {
    const k = sorted[Math.floor((i * sorted.length) / n)];
    if (!k) continue;
    const prev = out.at(-1);
    if (prev?.every((v, j) => v === k[j])) continue;
    out.push([...k]);
  }
  return out;
}

/**
 * The WHERE conditions of the ranges between the boundaries: `key < b1`, `key >= b1 and key < b2`,
 * …, `key >= bn`. Boundaries are the key's text values, cast back to the key's types.
 */
export function rangeConditions(key: readonly KeyColumn[], bounds: readonly (readonly string[])[]): string[] {
  const lhs =
    key.length === 1
      ? quoteIdent((key[0] as KeyColumn).name)
      : `(${key.map((k) => quoteIdent(k.name)).join(', ')})`;
  const value = (b: readonly string[]) => {
    const vals = key.map((k, i) => `${quoteLiteral(b[i] as string)}::${k.type}`);
    return key.length === 1 ? (vals[0] as string) : `(${vals.join(', ')})`;
  };
  const out: string[] = [];
  for (let i = 0; i <= bounds.length; i++) {
    const lo = i > 0 ? `${lhs} >= ${value(bounds[i - 1] as string[])}` : '';
    const hi = i < bounds.length ? `${lhs} < ${value(bounds[i] as string[])}` : '';
    out.push([lo, hi].filter(Boolean).join(' and '));
  }
  return out;
}
