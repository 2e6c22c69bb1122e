// The pure parts of splitting a table into key ranges: how many streams a size is worth, the
// quantile boundaries of a sorted sample (repeats dropped) and the range conditions they make
// (open at both ends, each boundary in the range it starts, literals cast to the key's types).
import { describe, expect, it } from 'vitest';
import { quantiles, rangeConditions, streamsFor } from '../../layers/londiste/copy/ranges.ts';

describe('copy ranges', () => {
  it('gives a table as many streams as its size is worth', () => {
    expect(streamsFor(1_000_000, 2, 250_000)).toBe(2);
    expect(streamsFor(1_000_000, 8, 250_000)).toBe(4);
    expect(streamsFor(400_000, 2, 250_000)).toBe(1);
    expect(streamsFor(10, 2, 250_000)).toBe(1);
    expect(streamsFor(10, 3, 0)).toBe(3);
  });

  it('cuts a sorted sample into equal parts and drops repeated boundaries', () => {
    const sample = Array.from({ length: 100 }, (_, i) => [String(i)]);
    expect(quantiles(sample, 4)).toEqual([['25'], ['50'], ['75']]);
    const flat = [['a'], ['a'], ['a'], ['a'], ['b'], ['c']];
    expect(quantiles(flat, 3)).toEqual([['a'], ['b']]);
    expect(quantiles([['x']], 2)).toEqual([['x']]);
    expect(quantiles([], 2)).toEqual([]);
  });

  it('writes conditions that cover the key space once', () => {
    expect(rangeConditions([{ name: 'id', type: 'bigint' }], [['10'], ['20']])).toEqual([
      `id < '10'::bigint`,
      `id >= '10'::bigint and id < '20'::bigint`,
      `id >= '20'::bigint`,
    ]);
    expect(
      rangeConditions(
        [
          { name: 'Region', type: 'text' },
          { name: 'n', type: 'integer' },
        ],
        [["it's", '5']],
      ),
    ).toEqual([
      `("Region", n) < ('it''s'::text, '5'::integer)`,
      `("Region", n) >= ('it''s'::text, '5'::integer)`,
    ]);
  });
});
