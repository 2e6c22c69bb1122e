// The pure parts of the setup commands: which names the arguments stand for (the original's
// globbing, with errors instead of log lines), handler strings and trigger arguments, and the
// original's table layout of tables/seqs/missing.
import { describe, expect, it } from 'vitest';
import { expandNames, globToRegExp } from '../../layers/londiste/admin-names.ts';
import { formatRows } from '../../layers/londiste/admin-show.ts';
import { handlerString, triggerArgs } from '../../layers/londiste/admin-tables.ts';

const candidates = ['public.a1', 'public.a2', 'public.b', 'x.a1', 'x.Big'];
const done = ['public.c', 'x.c'];

describe('expandNames', () => {
  it.each<[string[], string[], string[]]>([
    [['a1'], ['public.a1'], []],
    [['a*'], ['public.a1', 'public.a2'], []],
    [['x.*'], ['x.a1', 'x.Big'], ['x.c']],
    [['x.?ig'], ['x.Big'], []],
    [['*.a1'], ['public.a1', 'x.a1'], []],
    [['b', 'a?', 'b'], ['public.b', 'public.a1', 'public.a2'], []],
    [['c', 'b'], ['public.b'], ['public.c']],
    [['public.a.*'], [], []],
  ])('%j → %j (already: %j)', (args, names, already) => {
    if (args[0] === 'public.a.*') {
      // '.' is literal: matches nothing anywhere → an error, not a silent no-op
      expect(() => expandNames({ args, candidates, done, what: 'table' })).toThrow(
        'table not available: public.a.*',
      );
      return;
    }
    expect(expandNames({ args, candidates, done, what: 'table' })).toEqual({ names, already, warnings: [] });
  });

  it("takes '.' literally: a glob that matches nothing anywhere is an error, not a silent no-op", () => {
    expect(() => expandNames({ args: ['public.a.*'], candidates, done, what: 'table' })).toThrow(
      'table not available: public.a.*',
    );
  });

  it('lists every name not available, with the hint, and takes them only with --force or a tableless handler', () => {
    const i = { args: ['a1', 'nope', 'zz*', 'y.t'], candidates, done, what: 'table', hint: 'see "missing"' };
    expect(() => expandNames(i)).toThrow('table not available: public.nope, zz*, y.t (see "missing")');
    expect(expandNames({ ...i, args: ['a1', 'nope'], force: true })).toEqual({
      names: ['public.a1', 'public.nope'],
      already: [],
      warnings: ['public.nope not available, but --force is used'],
    });
    expect(expandNames({ ...i, args: ['nope'], allowUnknown: true }).names).toEqual(['public.nope']);
  });

  it('--all takes every candidate; no names and no --all is a usage error', () => {
    expect(expandNames({ args: [], all: true, candidates, done, what: 'table' }).names).toEqual(candidates);
    expect(() => expandNames({ args: [], candidates, done, what: 'sequence' })).toThrow(
      'no sequence given: name one or more (globs allowed), or use --all',
    );
  });

  it('escapes regex characters of names', () => {
    expect(globToRegExp('s$x.t(1)*').test('s$x.t(1)abc')).toBe(true);
    expect(globToRegExp('a+b').test('public.aab')).toBe(false);
  });
});

describe('handler strings and trigger arguments', () => {
  it.each<[string, string[], string]>([
    ['bulk', [], 'bulk'],
    ['bulk', ['method=1'], 'bulk(method=1)'],
    ['part', ['key=id', 'hash_mod=4', 'note=a b&c'], 'part(key=id&hash_mod=4&note=a+b%26c)'],
    ['x', ['flag'], 'x(flag=)'],
  ])('%s %j → %s', (name, args, out) => expect(handlerString(name, args)).toBe(out));

  it.each<[string, string[], string]>([
    ['bad(', [], 'invalid handler name "bad("'],
    ['', [], 'invalid handler name ""'],
    ['h', ['a=1', ' a =2'], 'handler argument a given twice'],
    ['h', ['=1'], 'invalid handler argument "=1": expected key=value'],
  ])('refuses %j %j', (name, args, msg) => expect(() => handlerString(name, args)).toThrow(msg));

  it('builds the trigger arguments as the original (custom args, then the magic words)', () => {
    expect(
      triggerArgs({
        triggerArgs: ['pkey=a,b'],
        triggerFlags: 'BI',
        noTriggers: true,
        mergeAll: true,
        noMerge: true,
        expectSync: true,
      }),
    ).toEqual(['pkey=a,b', 'tgflags=BI', 'no_triggers', 'merge_all', 'no_merge', 'expect_sync']);
    expect(triggerArgs({})).toEqual([]);
    expect(() => triggerArgs({ triggerFlags: 'bi' })).toThrow('invalid --trigger-flags "bi"');
  });
});

describe('formatRows', () => {
  it('prints as display_table: title, columns ≥ 15 wide + 2, None for NULL, nothing for no rows', () => {
    expect(formatRows('T', ['a', 'bb'], [])).toBe('');
    expect(
      formatRows(
        'Tables on node',
        ['table_name', 'merge_state'],
        [
          ['public.a_rather_long_name', null],
          ['s.t', 'ok'],
        ],
      ),
    ).toBe(
      [
        'Tables on node',
        'table_name                 merge_state',
        '-------------------------  ---------------',
        'public.a_rather_long_name  None',
        's.t                        ok',
        '',
      ].join('\n'),
    );
  });
});
