// The rules of incremental backups that need no cluster: when size + mtime may stand for "unchanged"
// (only an mtime older than the reference's start by the margin, never with --checksum), which
// backups a manifest's objects live in, retention keeping every backup a kept one refers to, and
// when a piece of a relation file is unchanged by its pages' LSNs.
import { describe, expect, it } from 'vitest';
import {
  changedPages,
  isRelationMainFork,
  MTIME_MARGIN_MS,
  pageDelta,
  pageLsnRule,
  pageRuns,
  type Reference,
  referencedBackups,
  runPages,
  unchangedByMtime,
} from '../../layers/walmgr/incremental.ts';
import type { Manifest, ManifestFile } from '../../layers/walmgr/manifest.ts';
import { selectKept } from '../../layers/walmgr/retention.ts';

const START = '2026-12-01T10:00:00.000Z';

function file(path: string, over: Partial<ManifestFile> = {}): ManifestFile {
  return {
    path,
    size: 8192,
    sha256: 'aa',
    mode: 0o600,
    mtime: '2026-12-01T09:00:00.000Z',
    storedSize: 100,
    ...over,
  };
}

function ref(trustMtime: boolean): Reference {
  return { manifest: { startTime: START } as Manifest, files: new Map(), trustMtime };
}

function manifest(id: string, over: Partial<Manifest> = {}): Manifest {
  return { id, startTime: id, stopTime: id, files: [], ...over } as Manifest;
}

describe('incremental rules', () => {
  it('trusts size + mtime only for an mtime older than the reference start by the margin', () => {
    const prior = file('base/1/1');
    expect(unchangedByMtime(ref(true), prior, { size: 8192, mtime: prior.mtime })).toBe(true);
    expect(unchangedByMtime(ref(true), prior, { size: 16384, mtime: prior.mtime })).toBe(false);
    expect(unchangedByMtime(ref(true), prior, { size: 8192, mtime: '2026-12-01T09:00:00.001Z' })).toBe(false);
    expect(unchangedByMtime(ref(false), prior, { size: 8192, mtime: prior.mtime })).toBe(false);
    expect(unchangedByMtime(ref(true), undefined, { size: 8192, mtime: prior.mtime })).toBe(false);
    const recent = new Date(Date.parse(START) - MTIME_MARGIN_MS + 1).toISOString();
    const late = file('base/1/2', { mtime: recent });
    expect(unchangedByMtime(ref(true), late, { size: 8192, mtime: recent })).toBe(false);
  });

  it('lists the backups holding a manifest’s objects, files and pieces', () => {
    const m = manifest('C', {
      files: [
        file('a', { ref: 'A' }),
        file('b'),
        file('c', {
          sha256: '',
          pieces: [
            { size: 1, storedSize: 1, sha256: 'x', ref: 'B' },
            { size: 1, storedSize: 1, sha256: 'y' },
            // A page delta of this backup over a base piece held by D.
            {
              size: 1,
              storedSize: 1,
              sha256: 'z',
              pages: { base: { ref: 'D', size: 1, storedSize: 1, sha256: 'w' }, blockSize: 8192, runs: [] },
            },
          ],
        }),
      ],
    });
    expect(referencedBackups(m)).toEqual(['A', 'B', 'D']);
  });

  it('retention keeps the backups a kept one refers to, transitively', () => {
    const all = [
      manifest('1-full'),
      manifest('2-incr', { references: ['1-full'] }),
      manifest('3-full'),
      manifest('4-diff', { references: ['3-full'] }),
      manifest('5-incr', { references: ['3-full', '4-diff'] }),
    ];
    expect([...selectKept(all, { keepLast: 1 }, new Date())].sort()).toEqual(['3-full', '4-diff', '5-incr']);
    expect([...selectKept(all.slice(0, 2), { keepLast: 1 }, new Date())].sort()).toEqual([
      '1-full',
      '2-incr',
    ]);
  });

  /** Pages of 8 KiB as PostgreSQL writes them: pd_lsn (high, low), pd_upper, size|version. */
  function pages(...lsns: bigint[]): Buffer {
    const b = Buffer.alloc(lsns.length * 8192);
    lsns.forEach((lsn, i) => {
      b.writeUInt32LE(Number(lsn >> 32n), i * 8192);
      b.writeUInt32LE(Number(lsn & 0xffffffffn), i * 8192 + 4);
      b.writeUInt16LE(8000, i * 8192 + 14);
      b.writeUInt16LE(8192 | 4, i * 8192 + 18);
      b.fill(0xab, i * 8192 + 24, i * 8192 + 200);
    });
    return b;
  }

  it('names the pages that are not standard pages older than the reference start', () => {
    const before = 0x1_2000_0000n; // 1/20000000
    expect(changedPages(pages(0x28n, 0x1_1fff_ffffn, 0x0_ffff_ffffn), 8192, before)).toEqual([]);
    // A page at or past the reference's start: changed since.
    expect(changedPages(pages(0x28n, before), 8192, before)).toEqual([1]);
    expect(changedPages(pages(0x2_0000_0000n, 0x28n, 0x2_0000_0000n), 8192, before)).toEqual([0, 2]);
    // LSN 0 (a new page, or an unlogged relation's): always.
    expect(changedPages(pages(0x28n, 0n), 8192, before)).toEqual([1]);
    const fresh = pages(0x28n, 0x30n);
    fresh.writeUInt16LE(0, 8192 + 14); // pd_upper 0: PageIsNew
    expect(changedPages(fresh, 8192, before)).toEqual([1]);
    const odd = pages(0x28n);
    odd.writeUInt16LE(4096 | 4, 18); // not this block size's page layout
    expect(changedPages(odd, 8192, before)).toEqual([0]);
    // A piece ending inside a page: that page counts as changed.
    expect(changedPages(Buffer.concat([pages(0x28n), Buffer.alloc(100)]), 8192, before)).toEqual([1]);
    expect(changedPages(Buffer.alloc(0), 8192, before)).toEqual([]);
    // A buffer not 4-byte aligned (read through the Buffer instead of a word view): the same.
    const mixed = Buffer.concat([pages(0x28n, before, 0n, 0x1_1fff_ffffn), Buffer.alloc(100)]);
    const unaligned = Buffer.alloc(mixed.length + 1).subarray(1);
    mixed.copy(unaligned);
    expect(unaligned.byteOffset % 4).not.toBe(0);
    expect(changedPages(unaligned, 8192, before)).toEqual([1, 2, 4]);
    expect(changedPages(mixed, 8192, before)).toEqual([1, 2, 4]);
  });

  it('counts all-visible pages without the WAL, and the pages the WAL names with it', () => {
    const before = 0x1_2000_0000n;
    const visible = pages(0x28n, 0x30n, 0x38n);
    visible.writeUInt16LE(0x0004, 8192 + 10); // pd_flags PD_ALL_VISIBLE on page 1, an old LSN
    // The page-LSN rule alone: marking a page all-visible moves no LSN, so it counts as changed…
    expect(changedPages(visible, 8192, before)).toEqual([1]);
    // …not when the WAL's map is at hand (its records name such a page).
    expect(changedPages(visible, 8192, before, false)).toEqual([]);
    // Pages the WAL names are changed whatever their LSN; with the rule's own, in order.
    const withNew = pages(0x28n, 0x30n, 0x2_0000_0000n, 0x38n);
    expect(changedPages(withNew, 8192, before, false, [0, 3])).toEqual([0, 2, 3]);
    expect(changedPages(withNew, 8192, before, false, [])).toEqual([2]);
    // Also through the Buffer reads of an unaligned piece.
    const unaligned = Buffer.alloc(visible.length + 1).subarray(1);
    visible.copy(unaligned);
    expect(changedPages(unaligned, 8192, before)).toEqual([1]);
  });

  it('groups pages into runs and back', () => {
    expect(pageRuns([])).toEqual([]);
    expect(pageRuns([0, 1, 2, 5, 7, 8])).toEqual([
      [0, 3],
      [5, 1],
      [7, 2],
    ]);
    expect(runPages(pageRuns([3, 4, 9]))).toEqual([3, 4, 9]);
  });

  it('stores a changed piece as its pages over a whole base, and keeps that base for a delta of a delta', () => {
    const before = 0x1_2000_0000n;
    const lsns = Array.from({ length: 8 }, () => 0x28n);
    const piece = pages(...lsns);
    piece.fill(0x11, 3 * 8192 + 100, 3 * 8192 + 200);
    piece.writeUInt32LE(0x2, 3 * 8192); // page 3: LSN 2/28, changed
    const whole = { size: piece.length, storedSize: 999, sha256: 'aa', storedSha256: 'bb', ref: 'FULL' };
    const first = pageDelta(piece, whole, changedPages(piece, 8192, before), 8192);
    expect(first?.pages).toEqual({
      base: { ref: 'FULL', size: piece.length, storedSize: 999, sha256: 'aa', storedSha256: 'bb' },
      blockSize: 8192,
      runs: [[3, 1]],
    });
    expect(first?.body.equals(piece.subarray(3 * 8192, 4 * 8192))).toBe(true);
    // The next backup: page 5 changed since; page 3 (in the reference's delta) goes in again with
    // its current content, over the same base.
    const next = Buffer.from(piece);
    next.writeUInt32LE(0x0, 3 * 8192);
    next.writeUInt32LE(0x3, 5 * 8192);
    const asDelta = { ...whole, ref: 'INCR1', pages: first!.pages };
    const second = pageDelta(next, asDelta, changedPages(next, 8192, 0x2_0000_0100n), 8192);
    expect(second?.pages.base.ref).toBe('FULL');
    expect(second?.pages.runs).toEqual([
      [3, 1],
      [5, 1],
    ]);
    expect(
      second?.body.equals(
        Buffer.concat([next.subarray(3 * 8192, 4 * 8192), next.subarray(5 * 8192, 6 * 8192)]),
      ),
    ).toBe(true);
    // More than half the pages: stored whole instead.
    expect(pageDelta(piece, whole, [0, 1, 2, 3, 4], 8192)).toBeNull();
    expect(pageDelta(piece, whole, [0, 1, 2, 3], 8192)).not.toBeNull();
    // Not whole pages, or a base of another block size: whole.
    expect(pageDelta(piece.subarray(0, 8000), whole, [0], 8192)).toBeNull();
    expect(
      pageDelta(piece, { ...asDelta, pages: { ...first!.pages, blockSize: 4096 } }, [1], 8192),
    ).toBeNull();
  });

  it('applies the page-LSN rule to relation main forks, on the reference’s timeline, without --checksum', () => {
    for (const p of [
      'base/5/16384',
      'base/5/16384.3',
      'global/1262',
      'pg_tblspc/16400/PG_15_202209061/5/16401.1',
    ])
      expect(isRelationMainFork(p), p).toBe(true);
    for (const p of [
      'base/5/16384_fsm',
      'base/5/16384_vm',
      'base/5/16384_init',
      'base/5/t3_16384',
      'base/5/PG_VERSION',
      'global/pg_control',
      'pg_xact/0000',
    ])
      expect(isRelationMainFork(p), p).toBe(false);
    const r = (timeline: number, trustMtime = true): Reference => ({
      manifest: { startTime: START, timeline, startLsn: '1/20000000' } as Manifest,
      files: new Map(),
      trustMtime,
    });
    expect(pageLsnRule(r(1), 1, 0x1_3000_0000n, 8192)).toEqual({ before: 0x1_2000_0000n, blockSize: 8192 });
    expect(pageLsnRule(r(1), 2, 0x1_3000_0000n, 8192)).toBeNull();
    expect(pageLsnRule(r(1, false), 1, 0x1_3000_0000n, 8192)).toBeNull();
    expect(pageLsnRule(r(1), 1, 0x1_1000_0000n, 8192)).toBeNull();
    expect(pageLsnRule(null, 1, 0x1_3000_0000n, 8192)).toBeNull();
  });
});
