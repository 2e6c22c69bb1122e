// A backup whose upload fails part-way (layers/walmgr/backup.ts, several workers storing at once):
// the failure is what backup() throws, and no manifest is written — the backup does not exist
// for restore, listbackups or retention.
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { backup } from '../../layers/walmgr/backup.ts';
import { listBackupRefs } from '../../layers/walmgr/manifest.ts';
import { type Cluster, createCluster, tempDir } from './harness.ts';

describe('walmgr backup when an upload fails', () => {
  let c: Cluster;
  let repo: string;
  beforeAll(async () => {
    repo = await tempDir('repo-upload-failure');
    c = await createCluster();
    await c.start();
    await c.query("create table t as select g, repeat('x', 200) as v from generate_series(1, 20000) g");
  }, 60_000);
  afterAll(async () => {
    await c?.destroy();
    rmSync(repo, { recursive: true, force: true });
  });

  it('throws the failure and writes no manifest', async () => {
    const real = await openStorage(repo);
    let puts = 0;
    const storage: Storage = Object.create(real);
    storage.put = async (key, body, o) => {
      // Some pieces go through, then one fails while others are in flight.
      if (key.includes('~') && ++puts === 5) throw new Error(`injected failure storing ${key}`);
      return real.put(key, body, o);
    };
    const client = new pg.Client({ connectionString: c.url });
    await client.connect();
    try {
      await expect(
        backup({ storage, client, codec: 'zstd', parallel: 4, pieceSize: 64 * 1024, pgdata: c.pgdata }),
      ).rejects.toThrow(/injected failure storing/);
    } finally {
      await client.end();
    }
    const sysid = (
      await c.query<{ s: string }>('select system_identifier::text as s from pg_control_system()')
    )[0]!.s;
    expect(await listBackupRefs(real, sysid)).toEqual([]);
    real.close();
  }, 60_000);
});
