// repair's bucket ranges (buckets.ts bucketRanges) against the server's own `key / width`: every
// key lies in the range computed for its bucket, the range's ends belong to that bucket and the
// values just outside it do not — for negative keys, 0 (the bucket that truncation toward zero
// makes twice as wide), and the ends of int8, where the range is clamped.
import { describe, expect, it } from 'vitest';
import { bucketRanges, ROWS_PER_BUCKET, widthOf } from '../../layers/londiste/compare/buckets.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;

describe('repair bucket ranges', () => {
  it('match the server’s integer division for every kind of key', async () => {
    const c = await db.pool.connect();
    try {
      for (const w of [1n, 3n, 8n, 1000n, 2n ** 40n]) {
        const keys = [
          MIN,
          MIN + 1n,
          -w - 1n,
          -w,
          -w + 1n,
          -1n,
          0n,
          1n,
          w - 1n,
          w,
          w + 1n,
          12345n,
          MAX - 1n,
          MAX,
        ];
        const r = await c.query<{ k: string; b: string }>(
          'select k::text, (k / $2::int8)::text as b from unnest($1::int8[]) k',
          [keys.map(String), String(w)],
        );
        for (const { k, b } of r.rows) {
          const [range, ...more] = bucketRanges(w, [BigInt(b)]);
          expect(more).toEqual([]);
          const [lo, hi] = range!;
          expect(lo <= BigInt(k) && BigInt(k) <= hi, `w=${w} k=${k} in [${lo}, ${hi}]`).toBe(true);
          const out = [lo - 1n, hi + 1n].filter((x) => x >= MIN && x <= MAX);
          const ends = await c.query<{ v: string; b: string }>(
            'select v::text, (v / $2::int8)::text as b from unnest($1::int8[]) v',
            [[lo, hi, ...out].map(String), String(w)],
          );
          expect(ends.rows.map((x) => x.b === b)).toEqual([true, true, ...out.map(() => false)]);
        }
      }
    } finally {
      c.release();
    }
  });

  it('joins adjacent buckets into one range and sizes buckets by the key’s density', () => {
    expect(bucketRanges(8n, [-2n, -1n, 0n, 1n, 3n])).toEqual([
      [-23n, 15n],
      [24n, 31n],
    ]);
    expect(widthOf(1_000_000n, 1_000_000)).toBe(BigInt(ROWS_PER_BUCKET));
    expect(widthOf(10n, 1_000_000)).toBe(1n);
    expect(widthOf(1_000_000_000n, 1_000)).toBe(1_000_000n * BigInt(ROWS_PER_BUCKET));
  });
});
