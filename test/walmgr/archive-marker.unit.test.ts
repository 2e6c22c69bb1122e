// The archive fast path in Node (layers/walmgr/command/archive-marker.ts): answers from a marker
// before the command line is parsed, and only in the plain form it understands.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { archivedByMarker, FAST_PATH_NAMES } from '../../layers/walmgr/command/archive-marker.ts';
import { CONFIG_ENV, CONFIG_FLAG, WALMGR_SETTINGS } from '../../layers/walmgr/settings.ts';
import { fileStamp, markerPath, spoolDir } from '../../layers/walmgr/spool.ts';

const SEG = '000000010000000000000007';

describe('archivedByMarker', () => {
  let pgdata: string;
  const mark = (spool = spoolDir(pgdata)) => {
    const m = markerPath(spool, SEG);
    mkdirSync(path.dirname(m), { recursive: true });
    writeFileSync(m, `${fileStamp(statSync(path.join(pgdata, 'pg_wal', SEG)))}\n`);
    return m;
  };
  const argv = (...rest: string[]) => [
    'node',
    'skytools.ts',
    'walmgr',
    'archive',
    `pg_wal/${SEG}`,
    SEG,
    ...rest,
  ];

  beforeEach(() => {
    pgdata = mkdtempSync(path.join(os.tmpdir(), 'skytools-marker-'));
    mkdirSync(path.join(pgdata, 'pg_wal'));
    writeFileSync(path.join(pgdata, 'pg_wal', SEG), Buffer.alloc(8192, 1));
  });
  afterEach(() => rmSync(pgdata, { recursive: true, force: true }));

  it('consumes a marker that vouches for the file, once', () => {
    mark();
    expect(archivedByMarker(argv('--repo', 's3://b/p', '--pgdata', pgdata), {}, '/')).toBe(true);
    expect(archivedByMarker(argv('--repo', 's3://b/p', '--pgdata', pgdata), {}, '/')).toBe(false);
  });

  it('finds pgdata and the spool by flag, by environment, or in the current directory', () => {
    const spool = path.join(pgdata, 'myspool');
    mark(spool);
    expect(archivedByMarker(argv(`--spool=${spool}`), { PGDATA: pgdata }, '/')).toBe(true);
    mark(spool);
    expect(archivedByMarker(argv('--use-partial', '--repo', 'x'), { WALMGR_SPOOL: spool }, pgdata)).toBe(
      true,
    );
  });

  it('leaves the work to the full command when a config file may move the spool, or the form is unusual', () => {
    mark();
    expect(archivedByMarker(argv('--config', '/etc/walmgr.ini'), {}, pgdata)).toBe(false);
    expect(archivedByMarker(argv(), { WALMGR_CONFIG: '/etc/walmgr.ini' }, pgdata)).toBe(false);
    expect(archivedByMarker(argv('--help'), {}, pgdata)).toBe(false);
    expect(archivedByMarker(argv('--repo'), {}, pgdata)).toBe(false);
    expect(
      archivedByMarker(['node', 'x', 'walmgr', '--repo', 'r', 'archive', `pg_wal/${SEG}`, SEG], {}, pgdata),
    ).toBe(false);
    expect(archivedByMarker(['node', 'x', 'walmgr', 'restore-wal', SEG, 'p'], {}, pgdata)).toBe(false);
    // The marker is still there for the full command.
    expect(archivedByMarker(argv(), {}, pgdata)).toBe(true);
  });

  it('does not vouch for a file that changed since the marker was written', () => {
    mark();
    writeFileSync(path.join(pgdata, 'pg_wal', SEG), Buffer.alloc(4096, 2));
    expect(archivedByMarker(argv(), {}, pgdata)).toBe(false);
  });

  it('uses the names of the settings specs', () => {
    const { pgdata, spool } = WALMGR_SETTINGS.specs;
    expect(FAST_PATH_NAMES.pgdata).toEqual({ flag: pgdata.flag!.split(' ')[0], env: pgdata.env });
    expect(FAST_PATH_NAMES.spool).toEqual({ flag: spool.flag!.split(' ')[0], env: spool.env });
    expect(FAST_PATH_NAMES.config).toEqual({ flag: CONFIG_FLAG.split(' ')[0], env: CONFIG_ENV });
  });
});
