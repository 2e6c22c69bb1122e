// The rules of incremental backups that need no cluster: when size + mtime may stand for "unchanged"
// (only an mtime older than the reference's start by the margin, never with --checksum), which
// backups a manifest's objects live in, and retention keeping every backup a kept one refers to.
import { describe, expect, it } from 'vitest';
import {
  MTIME_MARGIN_MS,
  type Reference,
  referencedBackups,
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
          ],
        }),
      ],
    });
    expect(referencedBackups(m)).toEqual(['A', 'B']);
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
});
