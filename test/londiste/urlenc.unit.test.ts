import { describe, expect, it } from 'vitest';
import { dbUrldecode, dbUrlencode, quotePlus, unquotePlus } from '../../layers/londiste/urlenc.ts';

describe('database urlencode', () => {
  it('encodes NULL as a bare key and empty as key=', () => {
    expect(dbUrlencode({ a: '1', b: null, c: '' })).toBe('a=1&b&c=');
    expect(dbUrldecode('a=1&b&c=')).toEqual({ a: '1', b: null, c: '' });
  });

  it('form-encodes like quote_plus: space as +, only letters, digits and _.-~ kept', () => {
    expect(quotePlus("a b&c=d+e/f!'()*~._-")).toBe('a+b%26c%3Dd%2Be%2Ff%21%27%28%29%2A~._-');
    expect(quotePlus('õ€')).toBe('%C3%B5%E2%82%AC');
    expect(unquotePlus('a+b%26c%3Dd%2Be')).toBe('a b&c=d+e');
  });

  it('round-trips arbitrary text', () => {
    const row = { 'we ird=key': 'line1\nline2 & %41 +', id: '42', n: null, u: 'ünï ☃' };
    expect(dbUrldecode(dbUrlencode(row))).toEqual(row);
  });

  it('rejects broken percent-encoding with a clear error', () => {
    expect(() => dbUrldecode('a=%E2%82')).toThrow(/invalid percent-encoding/);
  });

  it('decodes every component as unquotePlus does (ASCII escapes in place, the rest whole)', () => {
    const parts = [
      'a+b',
      '%3A%2b%7e',
      'x%41y',
      '%C3%A9t%C3%A9+%E2%82%AC',
      'plain',
      '',
      '100%25',
      'a%2',
      '%zz',
      '%',
      'b=c',
    ];
    for (const p of parts) {
      const qs = `k=${p}&${p}=v`;
      let want: unknown;
      try {
        want = {
          k: unquotePlus(p),
          [unquotePlus(p.split('=')[0] ?? '')]: p.includes('=')
            ? `${unquotePlus(p.split('=').slice(1).join('='))}=v`
            : 'v',
        };
      } catch (err) {
        want = err;
      }
      if (want instanceof Error) expect(() => dbUrldecode(qs), p).toThrow(/invalid percent-encoding/);
      else expect(dbUrldecode(qs), p).toEqual(want);
    }
    expect(dbUrldecode('ts=2026-12-01+17%3A14%3A38.1%2B00&v=%C3%BC+%26')).toEqual({
      ts: '2026-12-01 17:14:38.1+00',
      v: 'ü &',
    });
  });

  it('skips empty elements', () => {
    expect(dbUrldecode('&a=1&&')).toEqual({ a: '1' });
    expect(dbUrldecode('')).toEqual({});
  });
});
