// compare's row hash (checksum.ts rowHashSql) on the server: a timestamptz is hashed from its
// stored value (its distance from 2000-01-01 UTC), so the same instant written in any zone and
// read in any session time zone hashes alike, one microsecond apart does not, and the infinite
// values (which cannot be subtracted) hash too; every other typed column keeps its value hash.
import { describe, expect, it } from 'vitest';
import { checksumSql, rowHashSql } from '../../layers/londiste/compare/checksum.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const TZ = ['timestamp with time zone'];

describe('compare row hash', () => {
  it('hashes a timestamptz by its instant, infinities and NULL included', async () => {
    const c = await db.pool.connect();
    try {
      await c.query('create table public.h (k int, ts timestamptz)');
      await c.query(`insert into h values
        (1, '2026-01-01 12:00:00+02'), (2, '2026-01-01 10:00:00Z'), (3, '2026-01-01 10:00:00.000001Z'),
        (4, 'infinity'), (5, '-infinity'), (6, null), (7, '4713-01-01 00:00 BC'), (8, '294276-12-31 23:59:59Z')`);
      const hashes = async (tz: string) => {
        await c.query(`set timezone = '${tz}'`);
        const r = await c.query(`select k, (${rowHashSql(['ts'], TZ)})::text as h from h order by k`);
        return r.rows.map((x) => x.h as string);
      };
      const utc = await hashes('UTC');
      expect(await hashes('America/Caracas')).toEqual(utc);
      expect(utc[0]).toBe(utc[1]);
      expect(new Set([utc[1], utc[2], utc[3], utc[4], utc[5], utc[6], utc[7]]).size).toBe(7);
      expect(utc.every((h) => h !== null)).toBe(true);
      // NULL is the seed itself (the column's position), as for every column
      expect(utc[5]).toBe('1');
      // the checksum over them: every row counted, none of them raises
      const sum = await c.query(
        checksumSql({ table: 'public.h', columns: ['ts'], types: TZ, where: '', countOnly: false }, ''),
      );
      expect(String(sum.rows[0].n)).toBe('8');
      expect(sum.rows[0].sum).toMatch(/^-?\d+$/);
    } finally {
      c.release();
    }
  });

  it('hashes rows with and without NULLs as the per-column form (a NULL = its seed)', async () => {
    const c = await db.pool.connect();
    try {
      await c.query('create table public.n (id bigint, v text, n int, ts timestamptz)');
      await c.query(`insert into n values (1, 'a', 1, '2026-01-01Z'), (2, null, 1, '2026-01-01Z'),
        (3, 'a', null, null), (4, '', 0, 'infinity'), (5, null, null, null), (6, 'b', 2, '-infinity')`);
      const types = ['bigint', 'text', 'integer', 'timestamp with time zone'];
      const h = await c.query(
        `select id, (${rowHashSql(['id', 'v', 'n', 'ts'], types)})::text as h from n order by id`,
      );
      // the reference: each column's hash or, for NULL, its position, XORed (written out here)
      const ref = await c.query(`select id, (coalesce(hashint8extended(id, 1), 1)
          # coalesce(hashtextextended(v, 2), 2) # coalesce(hashint8extended(n::int8, 3), 3)
          # coalesce(timestamp_hash_extended(ts at time zone 'UTC', 4), 4))::text as h from n order by id`);
      expect(h.rows).toEqual(ref.rows);
      // for one key: NULL and '' differ, and so do the same values in other columns
      const one = await c.query(`select (${rowHashSql(['id', 'v', 'n', 'ts'], types)})::text as h from (values
        (1::bigint, null::text, 1, null::timestamptz), (1, '', 1, null), (1, '1', null, null)) x(id, v, n, ts)`);
      expect(new Set(one.rows.map((x) => x.h)).size).toBe(3);
    } finally {
      c.release();
    }
  });
});
