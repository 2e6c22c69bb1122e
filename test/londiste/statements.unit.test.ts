// The set-based statements' text: the UPDATE / DELETE by key take their rows sorted by the key
// when every key column has a built-in ordering, unsorted otherwise (ORDER BY would fail on a
// type with `=` but no ordering, like xid); values never appear in the text.
import { describe, expect, it } from 'vitest';
import type { TableShape } from '../../layers/londiste/apply/shape.ts';
import { setDelete, setUpdate } from '../../layers/londiste/apply/statements.ts';

function shape(cols: Record<string, string>, pkey: string[]): TableShape {
  return {
    table: 'public.t',
    quoted: 'public.t',
    oid: 1,
    columns: new Map(
      Object.entries(cols).map(([name, type]) => [name, { name, type, notNull: false, generated: false }]),
    ),
    pkey,
    hasRules: false,
    copyable: true,
  } as TableShape;
}

describe('rows by key', () => {
  it('sorts the rows by an orderable key before the lookup', () => {
    const s = shape({ id: 'pg_catalog.int8', v: 'pg_catalog.text' }, ['id']);
    expect(setUpdate(s, ['id'], ['v']).text).toBe(
      'update only public.t as t set v = s.v::pg_catalog.text from (select * from json_to_recordset($1::json) as s(id text, v text) order by s.id::pg_catalog.int8) as s where t.id = s.id::pg_catalog.int8',
    );
    expect(setDelete(s, ['id']).text).toContain('order by s.id::pg_catalog.int8) as s where');
    const two = shape({ a: 'pg_catalog.text', b: 'pg_catalog.int4', v: 'pg_catalog.text' }, ['a', 'b']);
    expect(setUpdate(two, ['a', 'b'], ['v']).text).toContain(
      'order by s.a::pg_catalog.text, s.b::pg_catalog.int4) as s',
    );
  });

  it('leaves them unsorted when a key column has no built-in ordering', () => {
    const s = shape({ k: 'pg_catalog.xid', v: 'pg_catalog.text' }, []);
    expect(setUpdate(s, ['k'], ['v']).text).toBe(
      'update only public.t as t set v = s.v::pg_catalog.text from json_to_recordset($1::json) as s(k text, v text) where t.k = s.k::pg_catalog.xid',
    );
    const dom = shape({ id: 'public.my_domain', v: 'pg_catalog.text' }, ['id']);
    expect(setDelete(dom, ['id']).text).not.toContain('order by');
  });
});
