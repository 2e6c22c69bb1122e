// verifyObject on both backends: WAL stored by walmgr's own archive code (storeWalFile) with
// synthetic 1 MiB segments that carry a valid long page header, corrupted objects, holes in the
// timeline catalog, and backup manifests checked against what is stored.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { storeWalFile } from '../../layers/walmgr/archive.ts';
import { backupFileKey, META, manifestKey, pieceKey, walKey } from '../../layers/walmgr/layout.ts';
import type { Manifest } from '../../layers/walmgr/manifest.ts';
import { catalogKey, readTimelineCatalog, verifyObject } from '../../layers/walmgr/verify-object.ts';
import { parseWalName, segmentName } from '../../layers/walmgr/wal.ts';
import { startS3, tempDir } from './harness.ts';

const SYS = '7300000000000000077';
const SEG = 1 << 20;

function segment(tli: number, n: number, sysid = SYS): Buffer {
  const b = Buffer.alloc(SEG);
  b.writeUInt16LE(0xd116, 0);
  b.writeUInt16LE(0x0002, 2);
  b.writeUInt32LE(tli, 4);
  b.writeBigUInt64LE(BigInt(n) * BigInt(SEG), 8);
  b.writeBigUInt64LE(BigInt(sysid), 24);
  b.writeUInt32LE(SEG, 32);
  b.writeUInt32LE(8192, 36);
  b.write(`segment ${n}`, 64);
  return b;
}

function suite(name: string, open: () => Promise<{ storage: Storage; done: () => Promise<void> }>) {
  describe(`walmgr verify-object: ${name}`, () => {
    let storage: Storage;
    let done: () => Promise<void>;
    let dir: string;
    beforeAll(async () => {
      ({ storage, done } = await open());
      dir = await tempDir('verify-src');
    });
    afterAll(async () => {
      storage.close();
      rmSync(dir, { recursive: true, force: true });
      await done();
    });

    const archive = async (tli: number, n: number, body = segment(tli, n)) => {
      const wal = parseWalName(segmentName(tli, BigInt(n), SEG));
      const file = path.join(dir, wal.name);
      writeFileSync(file, body);
      await storeWalFile(storage, file, wal, SYS, 'zstd');
      return walKey(SYS, wal);
    };

    it('accepts intact segments and records the timeline in the catalog', async () => {
      for (const n of [1, 2, 3]) {
        const v = await verifyObject(storage, await archive(1, n), { pending: 0 });
        expect(v).toMatchObject({ kind: 'wal', systemId: SYS, problems: [], gaps: [] });
      }
      const c = await readTimelineCatalog(storage, SYS, 1);
      expect(c).toMatchObject({
        timeline: 1,
        segmentSize: SEG,
        lowest: segmentName(1, 1n, SEG),
        highest: segmentName(1, 3n, SEG),
        gaps: [],
        problems: [],
      });
    });

    it('records a hole, keeps recent ones pending, and heals when the segment arrives', async () => {
      const k6 = await archive(1, 6);
      // Segments 4 and 5 are missing: with a pending window of 1 only 4 counts as a hole yet.
      expect((await verifyObject(storage, k6, { pending: 1 })).gaps).toEqual([segmentName(1, 4n, SEG)]);
      expect((await verifyObject(storage, k6, { pending: 0 })).gaps).toEqual([
        segmentName(1, 4n, SEG),
        segmentName(1, 5n, SEG),
      ]);
      await verifyObject(storage, await archive(1, 4), { pending: 0 });
      const v = await verifyObject(storage, await archive(1, 5), { pending: 0 });
      expect(v.gaps).toEqual([]);
      expect((await readTimelineCatalog(storage, SYS, 1))!.highest).toBe(segmentName(1, 6n, SEG));
    });

    it('detects corrupt content, a segment under another name and a wrong timeline directory', async () => {
      // Content that does not match its archived checksum.
      const k7 = await archive(1, 7);
      const stored = (await storage.get(k7))!;
      const body = Buffer.from(stored.body);
      body[body.length - 5]! ^= 0xff;
      await storage.put(k7, body, { metadata: stored.info.metadata });
      const bad = await verifyObject(storage, k7, { pending: 0 });
      expect(bad.problems.join('\n')).toMatch(/corrupt|decompress/);
      const c = (await readTimelineCatalog(storage, SYS, 1))!;
      expect(c.problems.at(-1)).toMatchObject({ key: k7 });
      // A corrupt segment is not part of the continuous archive.
      expect(c.highest).toBe(segmentName(1, 6n, SEG));
      // Segment 9's bytes archived under the name of 8 (checksum matches, header does not).
      const k8 = await archive(1, 9);
      const obj = (await storage.get(k8))!;
      const k8wrong = walKey(SYS, parseWalName(segmentName(1, 8n, SEG)));
      await storage.put(k8wrong, obj.body, { metadata: { ...obj.info.metadata, [META.name]: 'x' } });
      expect((await verifyObject(storage, k8wrong, { pending: 0 })).problems.join('\n')).toMatch(
        /does not match the name/,
      );
      const misplaced = `${SYS}/wal/00000002/${segmentName(1, 9n, SEG)}`;
      await storage.put(misplaced, obj.body, { metadata: obj.info.metadata });
      expect((await verifyObject(storage, misplaced)).problems.join('\n')).toMatch(/belongs to timeline 1/);
    });

    it('checks history files by checksum only and skips data files and catalog objects', async () => {
      const wal = parseWalName('00000002.history');
      const file = path.join(dir, wal.name);
      writeFileSync(file, '1\t0/9000000\tno recovery target specified\n');
      await storeWalFile(storage, file, wal, SYS, 'zstd');
      expect(await verifyObject(storage, walKey(SYS, wal))).toEqual({
        key: walKey(SYS, wal),
        kind: 'wal',
        systemId: SYS,
        problems: [],
      });
      expect(await readTimelineCatalog(storage, SYS, 2)).toBeNull();
      for (const k of [backupFileKey(SYS, 'b', 'PG_VERSION'), catalogKey(SYS, 1), 'README'])
        expect((await verifyObject(storage, k)).kind).toBe('skipped');
    });

    it('checks a backup manifest against the stored files and the WAL it needs', async () => {
      const m: Manifest = {
        format: 1,
        id: '20261127T000000Z',
        systemId: SYS,
        pgVersion: 170000,
        timeline: 1,
        walSegmentSize: SEG,
        startLsn: '0/100028',
        stopLsn: '0/300100',
        startWal: segmentName(1, 1n, SEG),
        stopWal: segmentName(1, 3n, SEG),
        startTime: '2026-11-27T00:00:00.000Z',
        stopTime: '2026-11-27T00:01:00.000Z',
        codec: 'none',
        backupLabel: '',
        tablespaceMap: '',
        dirs: [],
        files: [
          { path: 'PG_VERSION', size: 3, sha256: 'a', mode: 0o600, mtime: '', storedSize: 3 },
          { path: 'base/1/1259', size: 5, sha256: 'b', mode: 0o600, mtime: '', storedSize: 5 },
          {
            path: 'base/1/16384',
            size: 6,
            sha256: '',
            mode: 0o600,
            mtime: '',
            storedSize: 6,
            pieces: [
              { size: 4, storedSize: 4, sha256: 'c' },
              { size: 2, storedSize: 2, sha256: 'd' },
            ],
          },
        ],
        pieceSize: 4,
        totalSize: 14,
        storedSize: 14,
      };
      await storage.put(backupFileKey(SYS, m.id, 'PG_VERSION'), Buffer.from('17\n'));
      await storage.put(backupFileKey(SYS, m.id, 'base/1/1259'), Buffer.from('12345'));
      await storage.put(pieceKey(backupFileKey(SYS, m.id, 'base/1/16384'), 0), Buffer.from('abcd'));
      await storage.put(pieceKey(backupFileKey(SYS, m.id, 'base/1/16384'), 1), Buffer.from('ef'));
      await storage.put(manifestKey(SYS, m.id), Buffer.from(JSON.stringify(m)));
      expect(await verifyObject(storage, manifestKey(SYS, m.id))).toMatchObject({
        kind: 'backup',
        problems: [],
      });
      // Inconsistent: a file with the wrong size, one missing, one extra, WAL it needs missing.
      const bad = {
        ...m,
        id: '20261127T010000Z',
        startWal: segmentName(1, 1n, SEG),
        stopWal: segmentName(1, 12n, SEG),
      };
      await storage.put(backupFileKey(SYS, bad.id, 'PG_VERSION'), Buffer.from('17\n\n'));
      await storage.put(backupFileKey(SYS, bad.id, 'stray'), Buffer.from('?'));
      await storage.put(pieceKey(backupFileKey(SYS, bad.id, 'base/1/16384'), 0), Buffer.from('abcd'));
      await storage.put(manifestKey(SYS, bad.id), Buffer.from(JSON.stringify(bad)));
      const v = await verifyObject(storage, manifestKey(SYS, bad.id));
      expect(v.problems).toEqual([
        `backup ${bad.id}: PG_VERSION is stored with 4 bytes, the manifest says 3`,
        `backup ${bad.id}: base/1/1259 is in the manifest but not stored`,
        `backup ${bad.id}: base/1/16384~1 is in the manifest but not stored`,
        `backup ${bad.id}: stored file stray is not in the manifest`,
        expect.stringContaining(`WAL segment ${segmentName(1, 10n, SEG)} it needs is not archived`),
        expect.stringContaining(`WAL segment ${segmentName(1, 11n, SEG)} it needs is not archived`),
        expect.stringContaining(`WAL segment ${segmentName(1, 12n, SEG)} it needs is not archived`),
      ]);
      // Deep: checksums of every file are read too (the manifest's are fake here).
      const deep = await verifyObject(storage, manifestKey(SYS, m.id), { deep: true });
      expect(deep.problems.join('\n')).toMatch(/PG_VERSION is corrupt/);
    });
  });
}

suite('local directory', async () => {
  const dir = await tempDir('verify');
  return { storage: await openStorage(dir), done: async () => rmSync(dir, { recursive: true, force: true }) };
});

suite('S3 over HTTP', async () => {
  const s3 = await startS3('verify');
  const storage = await openStorage(`s3://${s3.bucket}/archive`, {
    endpoint: s3.endpoint,
    conditionalPut: Boolean(process.env.AWS_ENDPOINT_URL),
  });
  return { storage, done: () => s3.stop() };
});
