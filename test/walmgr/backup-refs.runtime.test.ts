// listBackupRefs (layers/walmgr/manifest.ts) finds the complete backups by delimiter listings,
// on both backends: never a listing of every object (a backup holds ~1000), only manifests and
// one rolled-up prefix per backup's data; incomplete backups (no manifest) are left out.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { listBackupRefs } from '../../layers/walmgr/manifest.ts';
import { type S3Endpoint, startS3, tempDir } from './harness.ts';

/** The storage, counting listings and refusing the full one. */
function counted(storage: Storage) {
  const calls: string[] = [];
  const s: Storage = Object.create(storage);
  s.list = async (p) => {
    throw new Error(`full listing of ${p}`);
  };
  s.listDelimited = async (p, d) => {
    calls.push(`${p} ${d}`);
    return storage.listDelimited(p, d);
  };
  return { s, calls };
}

async function fill(storage: Storage) {
  const put = (k: string) => storage.put(k, Buffer.from('x'));
  await put('skytools-walmgr.json');
  for (const [sys, id, complete] of [
    ['111', '20261201T000000Z', true],
    ['111', '20261202T000000Z', false],
    ['111', '20261203T000000Z', true],
    ['222', '20261204T000000Z', true],
  ] as const) {
    for (let i = 0; i < 30; i++) await put(`${sys}/backups/${id}/data/base/1/${1000 + i}`);
    await put(`${sys}/backups/${id}/data/~bundle-0`);
    if (complete) await put(`${sys}/backups/${id}/manifest.json`);
  }
  await put('111/wal/00000001/000000010000000000000001');
}

for (const backend of ['local directory', 'S3'] as const) {
  describe(`listBackupRefs on ${backend}`, () => {
    let storage: Storage;
    let s3: S3Endpoint | undefined;
    let dir: string | undefined;
    beforeAll(async () => {
      if (backend === 'S3') {
        s3 = await startS3('walmgr-refs');
        storage = await openStorage(`s3://${s3.bucket}/r`, { endpoint: s3.endpoint, conditionalPut: false });
      } else {
        dir = await tempDir('refs');
        storage = await openStorage(dir);
      }
      await fill(storage);
    });
    afterAll(async () => {
      storage.close();
      await s3?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('lists the complete backups of every system by delimiter', async () => {
      const { s, calls } = counted(storage);
      expect(await listBackupRefs(s)).toEqual([
        { systemId: '111', id: '20261201T000000Z' },
        { systemId: '111', id: '20261203T000000Z' },
        { systemId: '222', id: '20261204T000000Z' },
      ]);
      expect(calls.sort()).toEqual([' /', '111/backups/ /data/', '222/backups/ /data/']);
    });

    it('lists one system with one listing', async () => {
      const { s, calls } = counted(storage);
      expect((await listBackupRefs(s, '111')).map((r) => r.id)).toEqual([
        '20261201T000000Z',
        '20261203T000000Z',
      ]);
      expect(calls).toEqual(['111/backups/ /data/']);
      expect(await listBackupRefs(s, '333')).toEqual([]);
    });
  });
}
