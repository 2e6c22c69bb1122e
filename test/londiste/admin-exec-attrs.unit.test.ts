// EXECUTE attributes as the original's exec_attrs reads, writes and matches them (the cases of its
// doctests, and the errors): meta-comments before the first statement, continuation lines,
// urlencoded for the event, the all-or-none match against a node's tables, @name@ replacement.
import { describe, expect, it } from 'vitest';
import { ExecAttrs, type LocalObjects } from '../../layers/londiste/admin-exec-attrs.ts';

const noDb = {
  query: async () => {
    throw new Error('no database needed for Local-* keys');
  },
};

describe('ExecAttrs', () => {
  it('parses meta-comments up to the first statement, with continuation lines', () => {
    const a = ExecAttrs.fromSql(
      [
        '',
        ' --',
        '',
        '--*-- Local-Table: foo ,',
        '--',
        '--*-- bar ,',
        '--*--',
        '--*-- zoo',
        '--*--',
        '--*-- Local-Sequence: goo',
        '--*--',
        '--',
        '',
        'create fooza;',
        '--*-- Local-Table: ignored',
      ].join('\n'),
    );
    expect(a.toSql()).toBe('--*-- Local-Table: foo, bar, zoo\n--*-- Local-Sequence: goo');
    expect(a.toUrlenc()).toBe('local-table=foo%2Cbar%2Czoo&local-sequence=goo');
    expect(ExecAttrs.fromUrlenc(a.toUrlenc()).toSql()).toBe(a.toSql());
    expect(ExecAttrs.fromSql('alter table x add y int;').toUrlenc()).toBeNull();
  });

  it('wraps long lists as the original', () => {
    const a = new ExecAttrs();
    a.add('Local-Table', 'mytable');
    a.add('Local-Sequence', 'seq1');
    a.add('Local-Sequence', 'seq2');
    for (let i = 1; i <= 7; i++) a.add('Local-Destination', `mytable-longname-more${i}`);
    expect(a.toSql()).toBe(
      [
        '--*-- Local-Table: mytable',
        '--*-- Local-Sequence: seq1, seq2',
        '--*-- Local-Destination: mytable-longname-more1, mytable-longname-more2,',
        '--*--     mytable-longname-more3, mytable-longname-more4, mytable-longname-more5,',
        '--*--     mytable-longname-more6, mytable-longname-more7',
      ].join('\n'),
    );
  });

  it('runs where every object matches, not where none does, and refuses a partial match', async () => {
    const a = ExecAttrs.fromSql('--*-- Local-Table: foo, bar, zoo\n--*-- Local-Sequence: goo\nselect 1;');
    const local: LocalObjects = {
      tables: new Map([
        ['public.foo', 'public.foo'],
        ['public.bar', 'other.Bar'],
        ['public.zoo', 'Other.Foo'],
      ]),
      seqs: new Map([['public.goo', 'public.goo']]),
    };
    expect(await a.needExecute(noDb, local)).toBe(true);
    expect(await a.needExecute(noDb, { tables: new Map(), seqs: new Map() })).toBe(false);
    await expect(
      a.needExecute(noDb, { tables: new Map([['public.foo', 'public.foo']]), seqs: new Map() }),
    ).rejects.toThrow('EXECUTE only partially matches this node: matches foo; misses bar, zoo, goo');
    expect(await new ExecAttrs().needExecute(noDb, local)).toBe(true);
    expect(a.processSql('alter table @foo@;\nalter table @bar@;\nalter table @zoo@;', local)).toBe(
      'alter table public.foo;\nalter table other."Bar";\nalter table "Other"."Foo";',
    );
  });

  it('refuses an unknown key, naming the known ones', () => {
    expect(() => ExecAttrs.fromSql('--*-- Local-Tabel: x\n')).toThrow(
      'invalid EXECUTE attribute "Local-Tabel": expected one of Local-Table, Local-Sequence, Local-Destination',
    );
  });
});
