// What walmgr's listbackups, verify and expire print (layers/walmgr/command/*): pure formatting.
import { describe, expect, it } from 'vitest';
import { formatRetention } from '../../layers/walmgr/command/expire.ts';
import { formatBackupJson, formatBackupTable } from '../../layers/walmgr/command/listbackups.ts';
import { formatVerifyReports } from '../../layers/walmgr/command/verify.ts';
import type { Manifest } from '../../layers/walmgr/manifest.ts';

const manifest = {
  format: 1,
  id: '20261201T084500Z',
  systemId: '7300000000000000001',
  timeline: 1,
  startLsn: '0/2000028',
  stopLsn: '0/2000100',
  totalSize: 3 * 1048576,
  storedSize: 1048576 / 2,
  stopTime: '2026-12-01T08:45:03.000Z',
  files: [{ path: 'PG_VERSION' }, { path: 'base/1/1259' }],
  dirs: [{ path: 'base', mode: 0o700 }],
} as unknown as Manifest;

describe('walmgr reports', () => {
  it('lists backups as an aligned table with their type, or as JSON without file lists', () => {
    const diff = { ...manifest, id: '20261201T094500Z', type: 'diff', reference: manifest.id } as Manifest;
    const incr = { ...manifest, id: '20261201T104500Z', type: 'incr', reference: diff.id } as Manifest;
    expect(formatBackupTable([manifest, diff, incr]).split('\n')).toEqual([
      'id                    type  system id            tli  start lsn    stop lsn     size MiB  stored MiB  stop time',
      '20261201T084500Z      full  7300000000000000001    1  0/2000028    0/2000100         3.0         0.5  2026-12-01T08:45:03.000Z',
      '20261201T094500Z      diff  7300000000000000001    1  0/2000028    0/2000100         3.0         0.5  2026-12-01T08:45:03.000Z',
      '20261201T104500Z      incr  7300000000000000001    1  0/2000028    0/2000100         3.0         0.5  2026-12-01T08:45:03.000Z',
      '',
    ]);
    const json = JSON.parse(formatBackupJson([manifest]));
    expect(json).toEqual([expect.objectContaining({ id: manifest.id, fileCount: 2 })]);
    expect(json[0]).not.toHaveProperty('files');
    expect(json[0]).not.toHaveProperty('dirs');
  });

  it('reports verification per backup with its problems indented', () => {
    expect(
      formatVerifyReports([
        { backup: 'b1', files: 10, walSegments: 2, problems: [] },
        {
          backup: 'b2',
          files: 11,
          walSegments: 3,
          problems: ['base/1/1259: SHA-256 mismatch', 'WAL x missing'],
        },
      ]),
    ).toBe(
      'b1: 10 files, 2 WAL segments: ok\nb2: 11 files, 3 WAL segments: FAILED\n  base/1/1259: SHA-256 mismatch\n  WAL x missing\n',
    );
  });

  it('reports retention per system, says "would" in a dry run and names incomplete backups', () => {
    const system = {
      systemId: 'S',
      keptBackups: ['b3'],
      expiredBackups: ['b1', 'b2'],
      incompleteBackups: ['b4'],
      walBoundary: '000000010000000000000006',
      expiredWal: ['00000001/000000010000000000000001'],
      deletedObjects: 9,
    };
    expect(formatRetention({ dryRun: true, systems: [system] })).toBe(
      'S: kept 1 backup(s) [b3]; would delete 2 backup(s) [b1, b2] and 1 WAL file(s) below 000000010000000000000006; 9 object(s)\n' +
        'S: left alone 1 incomplete backup(s) without a manifest [b4]\n',
    );
    expect(formatRetention({ dryRun: false, systems: [{ ...system, incompleteBackups: [] }] })).toMatch(
      /; deleted 2 /,
    );
    expect(formatRetention({ dryRun: false, systems: [] })).toBe(
      'no backups in the repository: nothing to expire\n',
    );
  });
});
