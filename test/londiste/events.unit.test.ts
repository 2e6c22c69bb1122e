// Decoding trigger events into row changes: every shape the default handler accepts (event texts
// as our triggers write them: see test/pgq/triggers.sql.test.ts), sqltriga fragments parsed
// exactly or kept as SQL, key changes, and bad events.
import { describe, expect, it } from 'vitest';
import { decodeEvent, isDataEvent, isTruncateEvent, type RowChange } from '../../layers/londiste/events.ts';
import type { PgqEvent } from '../../layers/pgq/consumer.ts';

function ev(type: string, data: string | null, extra: Partial<PgqEvent> = {}): PgqEvent {
  return {
    id: 42n,
    time: new Date(0),
    txid: 1n,
    retry: null,
    type,
    data,
    extra1: 'public.t',
    extra2: null,
    extra3: null,
    extra4: null,
    ...extra,
  };
}

const row = (c: ReturnType<typeof decodeEvent>) => ({ ...(c as RowChange).row });

describe('event kinds', () => {
  it.each([
    ['I:id', true, false],
    ['U:id,k', true, false],
    ['D:id', true, false],
    ['I', true, false],
    ['U', true, false],
    ['D', true, false],
    ['{"op":"UPDATE","table":["public","t"],"pkey":["id"]}', true, false],
    ['{"op":"TRUNCATE","table":["public","t"],"pkey":["id"]}', false, true],
    ['R', false, true],
    ['EXECUTE', false, false],
    ['londiste.add-table', false, false],
    ['pgq.tick-id', false, false],
    ['X:id', false, false],
  ])('%s: data %s, truncate %s', (type, data, trunc) => {
    expect(isDataEvent({ type })).toBe(data);
    expect(isTruncateEvent({ type })).toBe(trunc);
  });
});

describe('logutriga', () => {
  it('decodes the urlencoded row with NULLs and the key list', () => {
    const c = decodeEvent(ev('U:id,k', 'id=1&k=a+b&name=a+b%26c%3dd%25e%2bf&note&n=1.5&e='));
    expect(c).toMatchObject({
      kind: 'row',
      op: 'U',
      evId: 42n,
      table: 'public.t',
      key: ['id', 'k'],
      partial: false,
    });
    expect(row(c)).toEqual({ id: '1', k: 'a b', name: 'a b&c=d%e+f', note: null, n: '1.5', e: '' });
    expect((c as RowChange).oldKey).toBeUndefined();
  });

  it('takes an insert without key columns', () => {
    expect(decodeEvent(ev('I:', 'a=1'))).toMatchObject({ op: 'I', key: [] });
  });

  it('gives the old key from the backup row when the key changed', () => {
    // logutriga('q', 'ignore=x', 'backup') on (v, id pk, x): "update set v='b', id=2" gets through
    const c = decodeEvent(ev('U:id', 'v=b&id=2', { extra2: 'v=a&id=1' }));
    expect(c).toMatchObject({ op: 'U', key: ['id'], oldKey: ['1'] });
    // the same key in the backup row: no key change
    expect((decodeEvent(ev('U:id', 'v=b&id=2', { extra2: 'v=a&id=2' })) as RowChange).oldKey).toBeUndefined();
    // an ev_extra2 that is not a row with the key is not the backup: ignored, as the original does
    expect(
      (decodeEvent(ev('U:id', 'v=b&id=2', { extra2: 'something' })) as RowChange).oldKey,
    ).toBeUndefined();
  });
});

describe('jsontriga', () => {
  it('keeps int8 and numeric text exact, booleans and nested values as text', () => {
    const c = decodeEvent(
      ev(
        '{"op":"INSERT","table":["public","j"],"pkey":["id"]}',
        '{"id":12345678901234567,"v":"x","b":true,"ts":"2026-12-01T11:30:15.170989+00:00","n":"1.25","f":1.50,"z":null,"o":{"k":[1,2]}}',
      ),
    );
    expect(c).toMatchObject({ op: 'I', key: ['id'] });
    expect(row(c)).toEqual({
      id: '12345678901234567',
      v: 'x',
      b: 'true',
      ts: '2026-12-01T11:30:15.170989+00:00',
      n: '1.25',
      f: '1.50',
      z: null,
      o: '{"k":[1,2]}',
    });
  });

  it('gives the old key from a JSON backup row', () => {
    const c = decodeEvent(
      ev('{"op":"UPDATE","table":["public","j"],"pkey":["id"]}', '{"id":2,"v":"b"}', {
        extra2: '{"id":1,"v":"a"}',
      }),
    );
    expect(c).toMatchObject({ op: 'U', oldKey: ['1'] });
  });
});

describe('sqltriga', () => {
  it('parses an INSERT with quoted names, E-strings, doubled quotes and null', () => {
    const c = decodeEvent(
      ev('I', `(id,"Val",v,b,arr) values ('1',E'it''s \\\\ back','{"a":1}',null,'{a,"b c",NULL}')`),
    );
    expect(c).toMatchObject({ kind: 'row', op: 'I', key: null });
    expect(row(c)).toEqual({ id: '1', Val: "it's \\ back", v: '{"a":1}', b: null, arr: '{a,"b c",NULL}' });
  });

  it('parses an UPDATE into the changed columns plus the key (partial)', () => {
    const c = decodeEvent(ev('U', `v=NULL,n='2',"W x"='a where b' where id='1' and k='x''y'`));
    expect(c).toMatchObject({ op: 'U', key: ['id', 'k'], partial: true });
    expect(row(c)).toEqual({ id: '1', k: "x'y", v: null, n: '2', 'W x': 'a where b' });
  });

  it('parses the no-change UPDATE form (the key set to itself)', () => {
    const c = decodeEvent(ev('U', `id='1' where id='1'`));
    expect(c).toMatchObject({ op: 'U', key: ['id'] });
    expect(row(c)).toEqual({ id: '1' });
  });

  it('parses a DELETE', () => {
    const c = decodeEvent(ev('D', `id='1' and k='a'`));
    expect(c).toMatchObject({ op: 'D', key: ['id', 'k'] });
    expect(row(c)).toEqual({ id: '1', k: 'a' });
  });

  it('folds unquoted names and reads plain numbers', () => {
    expect(row(decodeEvent(ev('I', '(ID, n) values (-12, 1.5)')))).toEqual({ id: '-12', n: '1.5' });
  });

  it.each([
    ['a cast', 'I', `(id) values ('1'::int)`],
    ['a function call', 'I', '(id) values (now())'],
    ['an operator', 'U', `n=n+1 where id='1'`],
    ['a key moved by the SET', 'U', `id='2' where id='1'`],
    ['an escape quote_literal does not write', 'I', `(v) values (E'a\\nb')`],
    ['a column twice', 'I', `(a,a) values ('1','2')`],
    ['more values than columns', 'I', `(a) values ('1','2')`],
    ['another condition', 'D', `id='1' or id='2'`],
    ['trailing text', 'D', `id='1'; drop table t`],
    ['an unterminated string', 'D', `id='1`],
  ])('keeps %s as SQL', (_what, type, data) => {
    expect(decodeEvent(ev(type, data))).toEqual({
      kind: 'sql',
      evId: 42n,
      table: 'public.t',
      op: type,
      sql: data,
    });
  });
});

describe('bad events', () => {
  it.each([
    ['no table', ev('I:id', 'id=1', { extra1: null }), /event 42 for table \?: no table name/],
    ['no data', ev('I:id', null), /event 42 for table public\.t: no row data/],
    ['unknown op', ev('X:id', 'id=1'), /unknown operation/],
    ['unknown type', ev('Z', 'x'), /unknown event type/],
    ['bad JSON type', ev('{"op":', '{}'), /ev_type is not valid JSON/],
    ['JSON type without pkey', ev('{"op":"INSERT"}', '{}'), /no pkey list/],
    ['bad JSON row', ev('{"op":"INSERT","pkey":["id"]}', '{"id":'), /not a JSON object/],
    ['update without key', ev('U:', 'a=1'), /without key columns/],
    ['key column missing', ev('D:id', 'a=1'), /key column id missing/],
    ['bad percent-encoding', ev('I:id', 'id=%zz'), /invalid percent-encoding/],
  ])('%s', (_what, e, msg) => {
    let err: any;
    try {
      decodeEvent(e);
    } catch (x) {
      err = x;
    }
    expect(err?.name).toBe('LondisteError');
    expect(err?.kind).toBe('bad_event');
    expect(err?.message).toMatch(msg);
  });
});
