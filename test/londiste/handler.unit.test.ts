// The handler contract's pure parts: handler strings as table_attrs stores them (written and read
// as python3-londiste does: see handler-vs-original.compat.test.ts), the registry, argument checks
// and show-handlers.
import { describe, expect, it } from 'vitest';
import { createHandlerString, parseHandlerString } from '../../layers/londiste/handler.ts';
import {
  buildHandler,
  formatHandlers,
  getHandlerSpec,
  listHandlers,
  registerHandler,
} from '../../layers/londiste/handlers/index.ts';
import { LondisteHandler } from '../../layers/londiste/handlers/londiste.ts';

function errorOf(f: () => unknown): any {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('handler strings', () => {
  it.each([
    ['londiste', [], 'londiste'],
    ['londiste', ['ignore_truncate=1'], 'londiste(ignore_truncate=1)'],
    ['londiste', ['ignore_truncate=1', ' encoding = utf8 '], 'londiste(ignore_truncate=1&encoding=utf8)'],
    ['bulk', ['method=1', 'flag'], 'bulk(method=1&flag=)'],
  ])('%s %j → %s', (name, args, s) => {
    expect(createHandlerString(name, args)).toBe(s);
  });

  it('round-trips values with separators and spaces', () => {
    const s = createHandlerString('x', ['a=b c&d,e=f', 'k=ü']);
    expect(parseHandlerString(s)).toEqual({ name: 'x', args: { a: 'b c&d,e=f', k: 'ü' } });
  });

  it.each([
    [null, 'londiste', {}],
    ['', 'londiste', {}],
    ['londiste', 'londiste', {}],
    ['londiste()', 'londiste', {}],
    ['londiste(ignore_truncate=1,encoding=utf8)', 'londiste', { ignore_truncate: '1', encoding: 'utf8' }],
    ['qtable(queue=q&x)', 'qtable', { queue: 'q', x: null }],
  ])('reads %j', (s, name, args) => {
    expect(parseHandlerString(s)).toEqual({ name, args });
  });

  it('refuses a bad name, duplicate arguments and a missing parenthesis', () => {
    expect(errorOf(() => createHandlerString('a(b'))).toMatchObject({
      kind: 'usage',
      message: 'invalid handler name: a(b',
    });
    expect(errorOf(() => createHandlerString('a', ['x=1', 'x=2']))).toMatchObject({
      kind: 'usage',
      message: 'multiple handler arguments: x',
    });
    expect(errorOf(() => parseHandlerString('a(x=1'))).toMatchObject({ kind: 'usage' });
  });
});

describe('registry', () => {
  it('builds the default handler with its arguments and dest table', () => {
    const h = buildHandler('public.t', 'londiste(ignore_truncate=1)', 'other.t2');
    expect(h).toBeInstanceOf(LondisteHandler);
    expect(h).toMatchObject({ name: 'londiste', tableName: 'public.t', destTable: 'other.t2' });
    expect((h as LondisteHandler).ignoreTruncate).toBe(true);
    expect(buildHandler('public.t', null).destTable).toBe('public.t');
    expect((buildHandler('public.t', '') as LondisteHandler).ignoreTruncate).toBe(false);
    expect(h.needsTable()).toBe(true);
    expect(h.triggerArgs(['a', 'b'])).toEqual(['a', 'b']);
  });

  it('refuses unknown handlers, unknown arguments and bad values', () => {
    expect(errorOf(() => buildHandler('public.t', 'nosuch'))).toMatchObject({ kind: 'not_found' });
    const e = errorOf(() => buildHandler('public.t', 'londiste(foo=1)'));
    expect(e.kind).toBe('usage');
    expect(e.message).toMatch(/invalid handler argument: foo/);
    expect(errorOf(() => buildHandler('public.t', 'londiste(ignore_truncate=yes)')).message).toMatch(
      /bad argument ignore_truncate="yes" \(allowed: 0, 1\)/,
    );
    expect(errorOf(() => buildHandler('public.t', 'londiste(encoding=latin1)')).message).toMatch(/only utf8/);
    expect(buildHandler('public.t', 'londiste(encoding=UTF8)').args).toEqual({ encoding: 'UTF8' });
  });

  it('lists handlers for show-handlers, and takes new ones', () => {
    const lines = formatHandlers().split('\n');
    expect(lines[0]).toBe('londiste - Default Londiste handler, inserts events into tables with plain SQL.');
    // every handler of the original, in the order its show-handlers prints them
    const names = lines.map((l) => l.split(' - ')[0] ?? '');
    expect(names.filter((n) => !/_(event|batch|field|time)$/.test(n))).toEqual([
      'londiste',
      'dispatch',
      'bulk_direct',
      'direct',
      'bulk',
      'shard',
      'part',
      'qtable',
      'qsplitter',
      'applyfn',
      'vtable',
      'fake_local',
      'obfuscate',
      'multimaster',
    ]);
    expect(names).toHaveLength(14 + 32);
    expect(formatHandlers(['londiste'])).toContain('ignore_truncate=BOOL - Ignore truncate event.');
    registerHandler({
      name: 'test_nop',
      summary: 'does nothing',
      args: [],
      create: (t, a, d) => new LondisteHandler(t, a, d),
    });
    expect(
      listHandlers()
        .map((h) => h.name)
        .at(-1),
    ).toBe('test_nop');
    expect(getHandlerSpec('test_nop').summary).toBe('does nothing');
  });
});
