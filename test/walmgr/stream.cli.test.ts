// `walmgr stream` against a real cluster: pg_receivewal through a slot, the segment in progress
// uploaded as <segment>.partial while rows are written, completed segments stored as archive
// does (and their partial removed), a final upload on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { fetchWal } from '../../layers/walmgr/restore-wal.ts';
import { findReceivewal, META_STREAM_END } from '../../layers/walmgr/stream.ts';
import { parseWalName, segmentName, segmentNumber } from '../../layers/walmgr/wal.ts';
import { CLI, type Cluster, createCluster, initRepo, ROOT, tempDir, waitFor, walmgr } from './harness.ts';

let receivewal: string | null = null;
try {
  receivewal = findReceivewal();
} catch (err) {
  console.warn(`skipping walmgr stream tests: ${(err as Error).message}`);
}

describe.runIf(receivewal)('walmgr stream', () => {
  let cluster: Cluster;
  let repo: string;
  let work: string;
  let storage: Storage;
  let sysid: string;
  let child: ChildProcess;
  let stderr = '';
  let exit: Promise<number | null>;
  let last: { f: string; o: number; lsn: string };
  const cleanup: (() => Promise<void>)[] = [];

  const pos = async () => {
    const [r] = await cluster.query<{ f: string; o: number; lsn: string }>(
      `select l.lsn::text as lsn, (pg_walfile_name_offset(l.lsn)).file_name as f,
              (pg_walfile_name_offset(l.lsn)).file_offset as o
         from (select pg_current_wal_flush_lsn() as lsn) l`,
    );
    return r!;
  };
  /** The uploaded partial of `seg` holds the cluster's own WAL bytes up to `offset`. */
  const partialCovers = async (seg: string, offset: number): Promise<boolean> => {
    const data = await fetchWal(storage, sysid, parseWalName(`${seg}.partial`));
    if (!data) return false;
    const local = readFileSync(path.join(cluster.pgdata, 'pg_wal', seg));
    return data.subarray(0, offset).equals(local.subarray(0, offset));
  };
  const write = (n: number) =>
    cluster.query(`insert into t select repeat('s', 100) from generate_series(1, ${n})`);

  beforeAll(async () => {
    cluster = await createCluster({ walSegMb: 1 });
    cleanup.push(() => cluster.destroy());
    await cluster.start();
    // A fresh segment, so the rows of the first test stay in one segment.
    await cluster.query('select pg_switch_wal()');
    await cluster.query('create table t (v text)');
    sysid = (
      await cluster.query<{ s: string }>('select system_identifier::text as s from pg_control_system()')
    )[0]!.s;
    repo = await tempDir('stream-repo');
    work = await tempDir('stream-work');
    cleanup.push(async () => {
      rmSync(repo, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });
    await initRepo(repo);
    storage = await openStorage(repo);
    cleanup.push(async () => storage.close());
    child = spawn(
      process.execPath,
      [
        CLI,
        'walmgr',
        'stream',
        '--repo',
        repo,
        '--db',
        cluster.url,
        '--slot',
        'walmgr_test',
        '--interval',
        '1',
        '--stream-dir',
        path.join(work, 'stream'),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  it('creates the slot and uploads the segment in progress as it grows', async () => {
    await waitFor(
      async () =>
        (await cluster.query("select 1 from pg_replication_slots where slot_name = 'walmgr_test' and active"))
          .length === 1,
      30_000,
      `active slot\n${stderr}`,
    );
    await write(200);
    const a = await pos();
    await waitFor(() => partialCovers(a.f, a.o), 30_000, `partial of ${a.f} up to ${a.lsn}\n${stderr}`);
    const first = (await storage.head(`${sysid}/wal/00000001/${a.f}.partial`))!;
    await write(200);
    const b = await pos();
    expect(b.f).toBe(a.f); // 40 kB of rows stay within the 1 MiB segment
    await waitFor(() => partialCovers(b.f, b.o), 30_000, `partial of ${b.f} up to ${b.lsn}\n${stderr}`);
    const second = (await storage.head(`${sysid}/wal/00000001/${b.f}.partial`))!;
    expect(second.metadata.sha256).not.toBe(first.metadata.sha256);
    expect(Number(second.metadata[META_STREAM_END])).toBeGreaterThan(Number(first.metadata[META_STREAM_END]));
    expect(Number(second.metadata[META_STREAM_END])).toBeGreaterThanOrEqual(b.o - 64);
  });

  it('stores a completed segment like archive and drops its partial', async () => {
    const before = await pos();
    await cluster.query('select pg_switch_wal()');
    await write(10);
    const key = `${sysid}/wal/00000001/${before.f}`;
    await waitFor(
      async () => (await storage.head(key)) !== null && (await storage.head(`${key}.partial`)) === null,
      30_000,
      `segment ${before.f} stored\n${stderr}`,
    );
    const full = await fetchWal(storage, sysid, parseWalName(before.f));
    expect(full!.equals(readFileSync(path.join(cluster.pgdata, 'pg_wal', before.f)))).toBe(true);
  });

  it('uploads what it received once more on SIGTERM and exits 0', async () => {
    await write(300);
    const c = await pos();
    // pg_receivewal reports its write position every second: wait until it has the rows.
    await waitFor(
      async () =>
        (
          await cluster.query(
            `select 1 from pg_stat_replication where application_name = 'pg_receivewal' and write_lsn >= $1::pg_lsn`,
            [c.lsn],
          )
        ).length === 1,
      30_000,
      `pg_receivewal at ${c.lsn}`,
    );
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(stderr).toMatch(/stopped: \d+ partial uploads, [1-9]\d* segments stored/);
    expect(await partialCovers(c.f, c.o)).toBe(true);
    last = c;
    // The slot stays for the next run (no WAL lost in between).
    expect(
      await cluster.query("select 1 from pg_replication_slots where slot_name = 'walmgr_test'"),
    ).toHaveLength(1);
  });

  it('restore-wal serves the partial of the last segment only with --use-partial, loudly', async () => {
    const seg = last.f;
    const dest = path.join(work, 'restored');
    const args = (...extra: string[]) => [
      'restore-wal',
      seg,
      dest,
      '--pgdata',
      cluster.pgdata,
      '--repo',
      repo,
      '--spool',
      path.join(work, 'spool'),
      '--prefetch',
      '0',
      ...extra,
    ];
    expect(await storage.head(`${sysid}/wal/00000001/${seg}`)).toBeNull();
    const plain = await walmgr(args());
    expect(plain.code).toBe(1);
    expect(existsSync(dest)).toBe(false);

    const used = await walmgr(args('--use-partial'));
    expect(used.stderr).toContain(`WARNING: ${seg} is not archived; serving ${seg}.partial`);
    expect(used.code).toBe(0);
    const partial = await fetchWal(storage, sysid, parseWalName(`${seg}.partial`));
    expect(readFileSync(dest).equals(partial!)).toBe(true);
    rmSync(dest);

    // A later WAL file in the archive: this partial is not the end, so recovery must stop.
    const next = segmentName(1, segmentNumber(seg, 1 << 20) + 1n, 1 << 20);
    const laterKey = `${sysid}/wal/00000001/${next}`;
    await storage.put(laterKey, Buffer.from('later'));
    const refused = await walmgr(args('--use-partial', 'on'));
    expect(refused.code).toBe(126);
    expect(refused.stderr).toContain(`later WAL is archived (${next})`);
    expect(existsSync(dest)).toBe(false);
    await storage.delete(laterKey);
  });
});
