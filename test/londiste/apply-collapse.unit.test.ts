// The per-key collapse (layers/londiste/apply/collapse.ts): every cell of its transition table,
// key changes, NULL keys and multi-column keys.
import { describe, expect, it } from 'vitest';
import { collapse } from '../../layers/londiste/apply/collapse.ts';
import type { ChangeOp, Row, RowChange } from '../../layers/londiste/events.ts';

let n = 0n;
function ch(op: ChangeOp, row: Row, extra: Partial<RowChange> = {}): RowChange {
  return { kind: 'row', evId: ++n, table: 't', op, row, key: ['id'], partial: false, ...extra };
}
const I = (id: string, v: string | null) => ch('I', { id, v });
const U = (id: string, v: string | null) => ch('U', { id, v });
const Up = (id: string, cols: Row) => ch('U', { id, ...cols }, { partial: true });
const D = (id: string) => ch('D', { id });

const result = (changes: RowChange[], key = ['id']) => {
  const c = collapse(changes, key);
  return {
    entries: c.entries.map((p) => ({ action: p.action, key: p.key, row: p.row && { ...p.row } })),
    keyless: c.keyless.map((r) => ({ ...r })),
  };
};
const one = (changes: RowChange[]) => result(changes).entries;

describe('collapse', () => {
  it.each([
    ['I', [I('1', 'a')], [{ action: 'insert', key: ['1'], row: { id: '1', v: 'a' } }]],
    ['I I', [I('1', 'a'), I('1', 'b')], [{ action: 'insert', key: ['1'], row: { id: '1', v: 'b' } }]],
    ['D I', [D('1'), I('1', 'a')], [{ action: 'replace', key: ['1'], row: { id: '1', v: 'a' } }]],
    [
      'D I I',
      [D('1'), I('1', 'a'), I('1', 'b')],
      [{ action: 'replace', key: ['1'], row: { id: '1', v: 'b' } }],
    ],
    ['U I', [U('1', 'a'), I('1', 'b')], [{ action: 'insert', key: ['1'], row: { id: '1', v: 'b' } }]],
    ['U', [U('1', 'a')], [{ action: 'update', key: ['1'], row: { id: '1', v: 'a' } }]],
    ['I U', [I('1', 'a'), U('1', 'b')], [{ action: 'insert', key: ['1'], row: { id: '1', v: 'b' } }]],
    [
      'D I U',
      [D('1'), I('1', 'a'), U('1', null)],
      [{ action: 'replace', key: ['1'], row: { id: '1', v: null } }],
    ],
    ['U U', [U('1', 'a'), U('1', 'b')], [{ action: 'update', key: ['1'], row: { id: '1', v: 'b' } }]],
    ['D U', [D('1'), U('1', 'a')], [{ action: 'delete', key: ['1'], row: null }]],
    ['D', [D('1')], [{ action: 'delete', key: ['1'], row: null }]],
    ['I D', [I('1', 'a'), D('1')], [{ action: 'delete', key: ['1'], row: null }]],
    ['U D', [U('1', 'a'), D('1')], [{ action: 'delete', key: ['1'], row: null }]],
    ['D I D', [D('1'), I('1', 'a'), D('1')], [{ action: 'delete', key: ['1'], row: null }]],
  ])('%s', (_name, changes, want) => {
    expect(one(changes as RowChange[])).toEqual(want);
  });

  it('merges partial updates column by column, later values winning', () => {
    expect(one([Up('1', { a: 'x' }), Up('1', { b: 'y' }), Up('1', { a: 'z' })])).toEqual([
      { action: 'update', key: ['1'], row: { id: '1', a: 'z', b: 'y' } },
    ]);
    expect(one([ch('I', { id: '1', a: '1', b: '2' }), Up('1', { b: '3' })])).toEqual([
      { action: 'insert', key: ['1'], row: { id: '1', a: '1', b: '3' } },
    ]);
  });

  it('keeps keys apart and in first-touch order', () => {
    expect(one([I('2', 'a'), I('1', 'b'), U('2', 'c')]).map((p) => [p.key[0], p.action, p.row?.v])).toEqual([
      ['2', 'insert', 'c'],
      ['1', 'insert', 'b'],
    ]);
  });

  it('turns a key change into a delete of the old key and a write of the new one', () => {
    const moved = ch('U', { id: '2', v: 'b' }, { oldKey: ['1'] });
    expect(one([I('1', 'a'), moved])).toEqual([
      { action: 'delete', key: ['1'], row: null },
      { action: 'insert', key: ['2'], row: { id: '2', v: 'b' } },
    ]);
    // the freed key taken by another row in the same batch
    const back = ch('U', { id: '1', v: 'c' }, { oldKey: ['3'] });
    expect(one([moved, back])).toEqual([
      { action: 'replace', key: ['1'], row: { id: '1', v: 'c' } },
      { action: 'insert', key: ['2'], row: { id: '2', v: 'b' } },
      { action: 'delete', key: ['3'], row: null },
    ]);
  });

  it('inserts rows with a NULL key as they are and drops updates and deletes by one', () => {
    const r = result([
      ch('I', { id: null, v: 'a' }),
      ch('I', { id: null, v: 'b' }),
      ch('U', { id: null, v: 'c' }),
      ch('D', { id: null }),
    ]);
    expect(r).toEqual({
      entries: [],
      keyless: [
        { id: null, v: 'a' },
        { id: null, v: 'b' },
      ],
    });
  });

  it('works with multi-column keys (a NUL-free join of the values)', () => {
    const k = ['a', 'b'];
    const c = (op: ChangeOp, row: Row) => ch(op, row, { key: k });
    const r = result(
      [
        c('I', { a: '1', b: 'x', v: '1' }),
        c('I', { a: '1x', b: '', v: '2' }),
        c('U', { a: '1', b: 'x', v: '3' }),
        c('D', { a: '1x', b: '' }),
      ],
      k,
    );
    expect(r.entries).toEqual([
      { action: 'insert', key: ['1', 'x'], row: { a: '1', b: 'x', v: '3' } },
      { action: 'delete', key: ['1x', ''], row: null },
    ]);
    expect(result([c('I', { a: '1', b: null, v: '1' })], k)).toEqual({
      entries: [],
      keyless: [{ a: '1', b: null, v: '1' }],
    });
  });
});
