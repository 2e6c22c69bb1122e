// Retention against a fake archive (a few backups + WAL on two timelines) on both backends:
// the local directory and S3 over HTTP (fauxqs in-process, or AWS_ENDPOINT_URL).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { backupFileKey, manifestKey } from '../../layers/walmgr/layout.ts';
import type { Manifest } from '../../layers/walmgr/manifest.ts';
import { applyRetention, checkPolicy, selectKept } from '../../layers/walmgr/retention.ts';
import { initRepo, startS3, tempDir, walmgr } from './harness.ts';

const SYS = '7300000000000000001';
const OTHER = '7300000000000000002';
const SEG = 16 * 1024 * 1024;
const seg = (tli: number, n: number) =>
  `${tli.toString(16).toUpperCase().padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;
const tliDir = (tli: number) => tli.toString(16).toUpperCase().padStart(8, '0');

function manifest(
  sysid: string,
  id: string,
  tli: number,
  start: number,
  stop: number,
  day: number,
): Manifest {
  const t = (h: number) => new Date(Date.UTC(2026, 10, day, h)).toISOString();
  return {
    format: 1,
    id,
    systemId: sysid,
    pgVersion: 170000,
    timeline: tli,
    walSegmentSize: SEG,
    startLsn: `0/${(start * SEG).toString(16).toUpperCase()}`,
    stopLsn: `0/${(stop * SEG + 0x100).toString(16).toUpperCase()}`,
    startWal: seg(tli, start),
    stopWal: seg(tli, stop),
    startTime: t(1),
    stopTime: t(2),
    codec: 'none',
    backupLabel: '',
    tablespaceMap: '',
    dirs: [],
    files: [{ path: 'PG_VERSION', size: 3, sha256: 'x', mode: 0o600, mtime: t(1), storedSize: 3 }],
    totalSize: 3,
    storedSize: 3,
  };
}

/**
 * Backups b1 (day 1, WAL 2..3), b2 (day 5, WAL 6..7), b3 (day 10, WAL 10..11, timeline 2 after a
 * promotion at segment 9), an incomplete b4 (no manifest); WAL 1..12 on timeline 1 up to 9, on
 * timeline 2 from 9, 00000002.history, a .backup label and a .partial; a second system with one
 * backup. Returns every key.
 */
async function buildArchive(s: Storage): Promise<void> {
  const put = (k: string, body = 'x') => s.put(k, Buffer.from(body));
  const backups: Manifest[] = [
    manifest(SYS, '20261101T010000Z', 1, 2, 3, 1),
    manifest(SYS, '20261105T010000Z', 1, 6, 7, 5),
    manifest(SYS, '20261110T010000Z', 2, 10, 11, 10),
  ];
  for (const m of backups) {
    await put(backupFileKey(SYS, m.id, 'PG_VERSION'), '17\n');
    await put(backupFileKey(SYS, m.id, 'base/1/1259'));
    await put(manifestKey(SYS, m.id), JSON.stringify(m));
  }
  await put(backupFileKey(SYS, '20261111T010000Z', 'PG_VERSION'), '17\n'); // running / failed
  for (let n = 1; n <= 9; n++) await put(`${SYS}/wal/${tliDir(1)}/${seg(1, n)}`);
  await put(`${SYS}/wal/${tliDir(1)}/${seg(1, 2)}.00000028.backup`);
  await put(`${SYS}/wal/${tliDir(1)}/${seg(1, 6)}.00000028.backup`);
  await put(`${SYS}/wal/${tliDir(1)}/${seg(1, 9)}.partial`);
  for (let n = 9; n <= 12; n++) await put(`${SYS}/wal/${tliDir(2)}/${seg(2, n)}`);
  await put(`${SYS}/wal/${tliDir(2)}/00000002.history`, '1\t0/9000000\tno recovery target specified\n');
  const o = manifest(OTHER, '20261101T000000Z', 1, 1, 1, 1);
  await put(backupFileKey(OTHER, o.id, 'PG_VERSION'), '17\n');
  await put(manifestKey(OTHER, o.id), JSON.stringify(o));
  await put(`${OTHER}/wal/${tliDir(1)}/${seg(1, 1)}`);
}

const keys = async (s: Storage) => (await s.list('')).map((o) => o.key);

function suite(name: string, open: () => Promise<{ storage: Storage; done: () => Promise<void> }>) {
  describe(`walmgr retention: ${name}`, () => {
    let storage: Storage;
    let done: () => Promise<void>;
    beforeAll(async () => {
      ({ storage, done } = await open());
    });
    afterAll(async () => {
      storage.close();
      await done();
    });

    it('dry run reports the plan and deletes nothing', async () => {
      await buildArchive(storage);
      const before = await keys(storage);
      const r = await applyRetention({ storage, policy: { keepLast: 2 }, systemId: SYS, dryRun: true });
      expect(r.dryRun).toBe(true);
      expect(r.systems).toHaveLength(1);
      expect(r.systems[0]).toMatchObject({
        keptBackups: ['20261105T010000Z', '20261110T010000Z'],
        expiredBackups: ['20261101T010000Z'],
        incompleteBackups: ['20261111T010000Z'],
        walBoundary: seg(1, 6),
      });
      expect(r.systems[0]!.expiredWal).toEqual([
        `${tliDir(1)}/${seg(1, 1)}`,
        `${tliDir(1)}/${seg(1, 2)}`,
        `${tliDir(1)}/${seg(1, 2)}.00000028.backup`,
        `${tliDir(1)}/${seg(1, 3)}`,
        `${tliDir(1)}/${seg(1, 4)}`,
        `${tliDir(1)}/${seg(1, 5)}`,
      ]);
      expect(r.systems[0]!.deletedObjects).toBe(3 + 6);
      expect(await keys(storage)).toEqual(before);
    });

    it('keep last 2: expires the oldest backup and the WAL below the next one; history, other systems and incomplete backups stay', async () => {
      const r = await applyRetention({ storage, policy: { keepLast: 2 } });
      expect(r.systems.map((x) => [x.systemId, x.expiredBackups.length])).toEqual([
        [SYS, 1],
        [OTHER, 0],
      ]);
      const w = (tli: number, name: string) => `${SYS}/wal/${tliDir(tli)}/${name}`;
      const b = (id: string, rel: string) => `${SYS}/backups/${id}/${rel}`;
      expect((await keys(storage)).filter((k) => k.startsWith(`${SYS}/`)).sort()).toEqual(
        [
          b('20261105T010000Z', 'data/PG_VERSION'),
          b('20261105T010000Z', 'data/base/1/1259'),
          b('20261105T010000Z', 'manifest.json'),
          b('20261110T010000Z', 'data/PG_VERSION'),
          b('20261110T010000Z', 'data/base/1/1259'),
          b('20261110T010000Z', 'manifest.json'),
          b('20261111T010000Z', 'data/PG_VERSION'),
          w(1, `${seg(1, 6)}.00000028.backup`),
          w(1, seg(1, 6)),
          w(1, seg(1, 7)),
          w(1, seg(1, 8)),
          w(1, seg(1, 9)),
          w(1, `${seg(1, 9)}.partial`),
          w(2, '00000002.history'),
          w(2, seg(2, 9)),
          w(2, seg(2, 10)),
          w(2, seg(2, 11)),
          w(2, seg(2, 12)),
        ].sort(),
      );
      expect((await keys(storage)).filter((k) => k.startsWith(`${OTHER}/`))).toHaveLength(3);
      // Idempotent: a second run finds nothing more to do.
      const again = await applyRetention({ storage, policy: { keepLast: 2 }, systemId: SYS });
      expect(again.systems[0]!.deletedObjects).toBe(0);
    });

    it('max age: keeps what stopped within the window, and always the newest backup', async () => {
      const now = new Date(Date.UTC(2026, 10, 12));
      const r = await applyRetention({ storage, policy: { maxAgeDays: 3 }, systemId: SYS, now });
      expect(r.systems[0]).toMatchObject({
        keptBackups: ['20261110T010000Z'],
        expiredBackups: ['20261105T010000Z'],
        walBoundary: seg(2, 10),
      });
      const rest = (await keys(storage)).filter((k) => k.startsWith(`${SYS}/wal/`));
      expect(rest.sort()).toEqual(
        [
          `${SYS}/wal/${tliDir(2)}/00000002.history`,
          `${SYS}/wal/${tliDir(2)}/${seg(2, 10)}`,
          `${SYS}/wal/${tliDir(2)}/${seg(2, 11)}`,
          `${SYS}/wal/${tliDir(2)}/${seg(2, 12)}`,
        ].sort(),
      );
      // Everything is "too old" a year later, but the newest backup and its WAL stay.
      const later = await applyRetention({
        storage,
        policy: { maxAgeDays: 1 },
        systemId: SYS,
        now: new Date(Date.UTC(2027, 10, 12)),
      });
      expect(later.systems[0]).toMatchObject({ keptBackups: ['20261110T010000Z'], deletedObjects: 0 });
      expect(await storage.head(manifestKey(SYS, '20261110T010000Z'))).not.toBeNull();
    });
  });
}

suite('local directory', async () => {
  const dir = await tempDir('retention');
  return { storage: await openStorage(dir), done: async () => rmSync(dir, { recursive: true, force: true }) };
});

suite('S3 over HTTP', async () => {
  const s3 = await startS3('retention');
  const storage = await openStorage(`s3://${s3.bucket}/archive`, {
    endpoint: s3.endpoint,
    conditionalPut: Boolean(process.env.AWS_ENDPOINT_URL),
  });
  return { storage, done: () => s3.stop() };
});

describe('retention policy', () => {
  it('refuses an empty or nonsensical policy', () => {
    expect(() => checkPolicy({})).toThrow(/needs a policy/);
    expect(() => checkPolicy({ keepLast: 0 })).toThrow(/keepLast/);
    expect(() => checkPolicy({ maxAgeDays: -1 })).toThrow(/maxAgeDays/);
  });

  it('keeps the union of count and age', () => {
    const ms = [
      manifest(SYS, 'a', 1, 1, 1, 1),
      manifest(SYS, 'b', 1, 2, 2, 2),
      manifest(SYS, 'c', 1, 3, 3, 3),
      manifest(SYS, 'd', 1, 4, 4, 4),
    ];
    const now = new Date(Date.UTC(2026, 10, 4, 12));
    expect([...selectKept(ms, { keepLast: 1, maxAgeDays: 2 }, now)].sort()).toEqual(['c', 'd']);
    expect([...selectKept(ms, { keepLast: 3, maxAgeDays: 1 }, now)].sort()).toEqual(['b', 'c', 'd']);
  });
});

describe('skytools walmgr expire', () => {
  it('reports the plan with --dry-run, then expires by --keep-last; refuses a missing or bad policy', async () => {
    const dir = await tempDir('expire-cli');
    await initRepo(dir);
    const storage = await openStorage(dir);
    try {
      await buildArchive(storage);
      const before = await keys(storage);
      const bad = await walmgr(['expire', '--repo', dir]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('give --keep-last N and/or --max-age-days D');
      const nan = await walmgr(['expire', '--repo', dir, '--keep-last', 'two']);
      expect(nan.code).toBe(1);
      expect(nan.stderr).toContain('--keep-last "two": expected an integer');
      const zero = await walmgr(['expire', '--repo', dir, '--max-age-days', '0']);
      expect(zero.stderr).toContain('--max-age-days "0": must be ≥');
      expect(await keys(storage)).toEqual(before);

      const dry = await walmgr([
        'expire',
        '--repo',
        dir,
        '--keep-last',
        '2',
        '--system-id',
        SYS,
        '--dry-run',
      ]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(
        `${SYS}: kept 2 backup(s) [20261105T010000Z, 20261110T010000Z]; would delete 1 backup(s) [20261101T010000Z] and 6 WAL file(s) below 000000010000000000000006`,
      );
      expect(dry.stdout).toContain('left alone 1 incomplete backup(s)');
      expect(await keys(storage)).toEqual(before);

      const real = await walmgr(['expire', '--repo', dir, '--keep-last', '2', '--system-id', SYS]);
      expect(real.code, real.stderr).toBe(0);
      expect(real.stdout).toContain('deleted 1 backup(s) [20261101T010000Z]');
      const after = await keys(storage);
      expect(after).not.toContain(manifestKey(SYS, '20261101T010000Z'));
      expect(after).toContain(manifestKey(SYS, '20261105T010000Z'));
      expect(after).toContain(manifestKey(OTHER, '20261101T000000Z'));
    } finally {
      storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
