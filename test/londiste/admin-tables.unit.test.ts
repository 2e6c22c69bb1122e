// The table state of layers/londiste/tables.ts as the original stores it in merge_state
// (playback.py TableState.parse_state / render_state): every state round-trips, '?' reads as ok,
// anything else is refused with the value in the message.
import { describe, expect, it } from 'vitest';
import {
  fqName,
  type MergeState,
  parseMergeState,
  renderMergeState,
  STATE_OWNER,
  TABLE_STATES,
  type TableState,
} from '../../layers/londiste/tables.ts';

describe('merge_state parse / render', () => {
  it.each<[MergeState, TableState]>([
    [null, { name: 'missing' }],
    ['in-copy', { name: 'in-copy' }],
    ['catching-up', { name: 'catching-up' }],
    ['wanna-sync:17', { name: 'wanna-sync', tick: 17n }],
    ['do-sync:9007199254740993', { name: 'do-sync', tick: 9007199254740993n }],
    ['ok', { name: 'ok' }],
  ])('%s ⇄ %o', (text, state) => {
    expect(parseMergeState(text)).toEqual(state);
    expect(renderMergeState(state)).toBe(text);
  });

  it("reads the original's '?' as ok", () => {
    expect(parseMergeState('?')).toEqual({ name: 'ok' });
  });

  it.each(['', 'copy', 'wanna-sync', 'wanna-sync:', 'do-sync:x', 'ok:1', 'in-copy:3'])(
    'refuses %j naming the value',
    (bad) => {
      expect(() => parseMergeState(bad)).toThrow(`bad table state ${JSON.stringify(bad)}`);
    },
  );

  it('names an owner for every state, as the original', () => {
    expect(TABLE_STATES.map((s) => `${s}:${STATE_OWNER[s]}`)).toEqual([
      'missing:main',
      'in-copy:copy',
      'catching-up:copy',
      'wanna-sync:main',
      'do-sync:copy',
      'ok:setup',
    ]);
  });
});

describe('fqName', () => {
  it.each([
    ['t', 'public.t'],
    ['s.t', 's.t'],
    ['Mixed', 'public.Mixed'],
  ])('%s → %s', (a, b) => expect(fqName(a)).toBe(b));
});
