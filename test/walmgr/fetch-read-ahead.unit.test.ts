// Restore reads ahead: with worker threads doing the CPU work, each --parallel slot keeps three
// objects in flight (fetch-backup.ts, READ_AHEAD), so a worker busy with one object already has
// the next ones' GETs on their way; without threads (the Lambda bundles) only --parallel.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStorage } from '../../layers/storage/local.ts';
import { fetchBackupFiles, inFlight } from '../../layers/walmgr/fetch-backup.ts';
import { backupFileKey } from '../../layers/walmgr/layout.ts';
import type { Manifest } from '../../layers/walmgr/manifest.ts';
import { type FetchJob, type FetchResult, PieceWorkers } from '../../layers/walmgr/piece-worker.ts';

/** Counts the jobs in flight at once. */
class CountingWorkers extends PieceWorkers {
  now = 0;
  most = 0;
  override async run(job: FetchJob): Promise<FetchResult> {
    this.most = Math.max(this.most, ++this.now);
    try {
      return await super.run(job);
    } finally {
      this.now--;
    }
  }
}

describe('restore read-ahead', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-read-ahead-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps three objects in flight per slot with threads, capped; --parallel without', () => {
    expect(inFlight(4, true)).toBe(12);
    expect(inFlight(4, false)).toBe(4);
    expect(inFlight(1, true)).toBe(3);
    expect(inFlight(32, true)).toBe(48);
    expect(inFlight(64, true)).toBe(64);
    expect(inFlight(0, true)).toBe(3);
  });

  it('restores every file with more GETs in flight than --parallel, each checked', async () => {
    const storage = new LocalStorage(path.join(dir, 'repo'));
    const pgdata = path.join(dir, 'pgdata');
    const m: Manifest = {
      format: 1,
      id: 'b1',
      systemId: '42',
      pgVersion: 15,
      timeline: 1,
      walSegmentSize: 16 << 20,
      startLsn: '0/2000028',
      stopLsn: '0/2000100',
      startWal: '000000010000000000000002',
      stopWal: '000000010000000000000002',
      startTime: '',
      stopTime: '',
      codec: 'zstd',
      backupLabel: '',
      tablespaceMap: '',
      dirs: [{ path: 'base', mode: 0o700 }],
      files: [],
      totalSize: 0,
      storedSize: 0,
    };
    const plain = new Map<string, Buffer>();
    for (let i = 0; i < 40; i++) {
      const rel = `base/f${i}`;
      const data = Buffer.alloc(200_000 + i, i);
      const stored = zlib.zstdCompressSync(data);
      await storage.put(backupFileKey(m.systemId, m.id, rel), stored);
      plain.set(rel, data);
      m.files.push({
        path: rel,
        size: data.length,
        sha256: createHash('sha256').update(data).digest('hex'),
        mode: 0o600,
        mtime: '',
        storedSize: stored.length,
      });
    }
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(pgdata, 'base'), { recursive: true });
    const workers = new CountingWorkers(2);
    try {
      await fetchBackupFiles(storage, m, { pgdata, parallel: 2, workers });
    } finally {
      await workers.close();
    }
    expect(workers.most).toBeGreaterThan(2);
    expect(workers.most).toBeLessThanOrEqual(6);
    for (const [rel, data] of plain) expect(readFileSync(path.join(pgdata, rel)).equals(data)).toBe(true);
  });
});
