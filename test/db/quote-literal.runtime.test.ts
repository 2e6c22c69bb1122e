// quoteLiteral: whatever the string, the server reads the literal back as exactly that string,
// with standard_conforming_strings on and off.
import { describe, expect, it } from 'vitest';
import { quoteLiteral } from '../../layers/db/ident.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const ODD = [
  'plain',
  "it's",
  "''",
  'back\\slash',
  "\\'",
  'ünï 😀',
  'a\nb\tc',
  '',
  "E'x'",
  '$$dollar$$',
  '\\\\',
];

describe('quoteLiteral', () => {
  it.each(['on', 'off'])('round-trips odd strings with standard_conforming_strings %s', async (scs) => {
    const c = await db.connect();
    try {
      await c.query(`set standard_conforming_strings = ${scs}`);
      await c.query('set escape_string_warning = off');
      for (const s of ODD) expect((await c.query(`select ${quoteLiteral(s)}::text as v`)).rows[0].v).toBe(s);
    } finally {
      await c.end();
    }
  });

  it('refuses a NUL byte', () => {
    expect(() => quoteLiteral('a\0b')).toThrow(/NUL/);
  });
});
