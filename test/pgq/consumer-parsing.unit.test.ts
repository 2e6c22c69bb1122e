// Parsing of raw event rows: timestamps as PostgreSQL sends them, lazily parsed fields.
import { describe, expect, it } from 'vitest';
import { BatchEvent, parseTimestamptz } from '../../layers/pgq/consumer.ts';

describe('parseTimestamptz', () => {
  it.each([
    ['2026-11-27 21:06:49.546072+00', '2026-11-27T21:06:49.546Z'],
    ['2026-11-27 21:06:49+00', '2026-11-27T21:06:49.000Z'],
    ['2026-11-27 23:36:49.5+02:30', '2026-11-27T21:06:49.500Z'],
    ['2026-11-27 16:06:49-05', '2026-11-27T21:06:49.000Z'],
  ])('%s', (text, iso) => {
    expect(parseTimestamptz(text).toISOString()).toBe(iso);
  });
});

describe('BatchEvent', () => {
  it('exposes typed fields from a raw text row and counts tags', () => {
    const tally = { untagged: 0, retries: new Map() };
    const ev = new BatchEvent(
      ['9007199254740993', '2026-01-01 00:00:00+00', '42', '2', 'T', 'd', 'a', null, null, 'z'],
      tally,
    );
    expect(ev.id).toBe(9007199254740993n);
    expect(ev.txid).toBe(42n);
    expect(ev.retry).toBe(2);
    expect(ev.time.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect([ev.type, ev.data, ev.extra1, ev.extra2, ev.extra4]).toEqual(['T', 'd', 'a', null, 'z']);
    expect(tally.untagged).toBe(1);
    ev.tagRetry(5);
    expect(tally.untagged).toBe(0);
    expect(tally.retries.get(9007199254740993n)).toBe(5);
    ev.tagDone();
    expect(tally.retries.size).toBe(0);
    expect(JSON.parse(JSON.stringify(ev))).toMatchObject({ id: '9007199254740993', type: 'T' });
  });
});
