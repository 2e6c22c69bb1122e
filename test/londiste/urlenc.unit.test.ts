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

  it('skips empty elements', () => {
    expect(dbUrldecode('&a=1&&')).toEqual({ a: '1' });
    expect(dbUrldecode('')).toEqual({});
  });
});
