// archive / restore-wal against a real S3 endpoint over HTTP, with real WAL from a real cluster:
// refusal to overwrite, header checks, corruption detected on restore, crash between upload
// and exit, and S3 going away while PostgreSQL archives.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { parseWalName, segmentName, segmentNumber } from '../../layers/walmgr/wal.ts';
import {
  archiveCommand,
  type Cluster,
  chownR,
  createCluster,
  initRepo,
  type S3Endpoint,
  startProxy,
  startS3,
  switchAndWaitArchived,
  type Proxy as TcpProxy,
  tempDir,
  waitFor,
  walmgr,
} from './harness.ts';

describe('walmgr archive and restore-wal', () => {
  let s3: S3Endpoint;
  let source: Cluster;
  let scratch: string;
  let storage: Storage;
  let sysid: string;
  let segs: string[];
  const cleanup: (() => Promise<void>)[] = [];
  const flags = () => [
    '--repo',
    `s3://${s3.bucket}/unit`,
    '--endpoint',
    s3.endpoint,
    '--s3-conditional-put',
    'off',
    '--ahead',
    '0',
  ];
  const archive = (p: string, f: string, env?: Record<string, string>) =>
    walmgr(['archive', p, f, '--pgdata', scratch, ...flags()], env ? { env } : {});
  const restoreWal = (f: string, p: string) =>
    walmgr(['restore-wal', f, p, '--pgdata', scratch, ...flags(), '--prefetch', '2']);

  beforeAll(async () => {
    s3 = await startS3('walmgr-unit');
    cleanup.push(() => s3.stop());
    await initRepo(`s3://${s3.bucket}/unit`, s3.endpoint);
    storage = await openStorage(`s3://${s3.bucket}/unit`, { endpoint: s3.endpoint, conditionalPut: false });
    cleanup.push(async () => storage.close());
    // Real WAL: a cluster that keeps its segments (archive_command 'true' would recycle them).
    source = await createCluster({ conf: { wal_keep_size: '64MB' } });
    cleanup.push(() => source.destroy());
    await source.start();
    await source.query('create table x (v text)');
    segs = [];
    for (let i = 0; i < 4; i++) {
      await source.query(`insert into x select repeat('w', 200) from generate_series(1, 2000)`);
      segs.push((await source.query<{ f: string }>('select pg_walfile_name(pg_switch_wal()) as f'))[0]!.f);
    }
    await source.query('checkpoint');
    sysid = (
      await source.query<{ s: string }>('select system_identifier::text as s from pg_control_system()')
    )[0]!.s;
    scratch = await tempDir('scratch');
    cleanup.push(async () => rmSync(scratch, { recursive: true, force: true }));
    mkdirSync(path.join(scratch, 'global'), { recursive: true });
    mkdirSync(path.join(scratch, 'pg_wal'), { recursive: true });
    copyFileSync(path.join(source.pgdata, 'global/pg_control'), path.join(scratch, 'global/pg_control'));
    for (const s of segs)
      copyFileSync(path.join(source.pgdata, 'pg_wal', s), path.join(scratch, 'pg_wal', s));
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  it('stores a segment once and accepts the same content again', async () => {
    const r1 = await archive(`pg_wal/${segs[0]}`, segs[0]!);
    expect(r1.code, r1.stderr).toBe(0);
    const obj = await storage.head(`${sysid}/wal/00000001/${segs[0]}`);
    expect(obj?.metadata.compression).toBe('zstd');
    expect(obj!.size).toBeLessThan(1 << 20);
    const r2 = await archive(`pg_wal/${segs[0]}`, segs[0]!);
    expect(r2.code, r2.stderr).toBe(0);
  });

  it('refuses different content under an existing name', async () => {
    const fake = path.join(scratch, 'pg_wal', 'other');
    // Same segment name, different bytes after the header: a second cluster or a changed file.
    const buf = readFileSync(path.join(scratch, 'pg_wal', segs[0]!));
    buf[buf.length - 1] = buf[buf.length - 1]! ^ 0xff;
    writeFileSync(fake, buf);
    const r = await archive(fake, segs[0]!);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refusing to overwrite .*wal\/00000001\/0+1?/);
    expect(r.stderr).toContain('SHA-256');
  });

  it('never overwrites a .history file', async () => {
    writeFileSync(
      path.join(scratch, 'pg_wal', '00000002.history'),
      '1\t0/3000000\tno recovery target specified\n',
    );
    expect((await archive('pg_wal/00000002.history', '00000002.history')).code).toBe(0);
    expect((await archive('pg_wal/00000002.history', '00000002.history')).code).toBe(0);
    writeFileSync(path.join(scratch, 'pg_wal', '00000002.history'), '1\t0/4000000\tother\n');
    const r = await archive('pg_wal/00000002.history', '00000002.history');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('refusing to overwrite');
  });

  it('rejects a segment stored under another segment name, and junk named like a segment', async () => {
    const wrong = path.join(scratch, 'pg_wal', 'renamed');
    copyFileSync(path.join(scratch, 'pg_wal', segs[1]!), wrong);
    const r1 = await archive(wrong, segs[2]!);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain('does not match the name');
    writeFileSync(wrong, Buffer.alloc(1 << 20, 7));
    const r2 = await archive(wrong, segs[2]!);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('not a PostgreSQL WAL page magic');
    expect(await storage.head(`${sysid}/wal/00000001/${segs[2]}`)).toBeNull();
  });

  it('restores a segment verified, and exits 1 for one not in the archive', async () => {
    const r = await restoreWal(segs[0]!, 'pg_wal/RESTORED');
    expect(r.code, r.stderr).toBe(0);
    expect(
      readFileSync(path.join(scratch, 'pg_wal/RESTORED')).equals(
        readFileSync(path.join(scratch, 'pg_wal', segs[0]!)),
      ),
    ).toBe(true);
    const missing = await restoreWal('0000000100000000000000FF', 'pg_wal/RESTORED2');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('is not in');
    const hist = await restoreWal('00000009.history', 'pg_wal/H');
    expect(hist.code).toBe(1);
  });

  it('detects a corrupted object on restore and stops recovery (exit > 125)', async () => {
    expect((await archive(`pg_wal/${segs[3]}`, segs[3]!)).code).toBe(0);
    const key = `${sysid}/wal/00000001/${segs[3]}`;
    const obj = (await storage.get(key))!;
    // Flip one bit in the middle of the compressed bytes, keep the metadata.
    const body = Buffer.from(obj.body);
    body[body.length >> 1] = body[body.length >> 1]! ^ 0x10;
    await storage.put(key, body, { metadata: obj.info.metadata });
    const r = await restoreWal(segs[3]!, 'pg_wal/CORRUPT');
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/corrupt|decompress/);
    // A well-formed object holding another segment is caught by the header check.
    const other = (await storage.get(`${sysid}/wal/00000001/${segs[0]}`))!;
    await storage.put(key, other.body, { metadata: other.info.metadata });
    const r2 = await restoreWal(segs[3]!, 'pg_wal/CORRUPT');
    expect(r2.code).toBe(126);
    expect(r2.stderr).toContain('does not match the name');
  });

  it('completes after the archiver crashes between upload and exit', async () => {
    const r1 = await archive(`pg_wal/${segs[1]}`, segs[1]!, { SKYTOOLS_WALMGR_FAULT: 'crash-after-upload' });
    expect(r1.code).not.toBe(0); // killed before reporting success
    expect(await storage.head(`${sysid}/wal/00000001/${segs[1]}`)).not.toBeNull();
    const r2 = await archive(`pg_wal/${segs[1]}`, segs[1]!);
    expect(r2.code, r2.stderr).toBe(0);
  });
});

describe('walmgr archive while S3 goes away', () => {
  let s3: S3Endpoint;
  let proxy: TcpProxy;
  let c: Cluster;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    s3 = await startS3('walmgr-outage');
    cleanup.push(() => s3.stop());
    await initRepo(`s3://${s3.bucket}/o`, s3.endpoint);
    proxy = await startProxy(s3.endpoint);
    cleanup.push(() => proxy.stop());
    c = await createCluster({
      archiveCommand: archiveCommand(
        `--repo s3://${s3.bucket}/o --endpoint ${proxy.endpoint} --s3-conditional-put off --timeout 5 --ahead 4`,
      ),
      conf: { archive_timeout: '0' },
    });
    cleanup.push(() => c.destroy());
    await c.start();
    await c.query('create table y (id int, v text)');
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  it('fails while S3 is down, PostgreSQL retries, and no segment is missing afterwards', async () => {
    const first = await switchAndWaitArchived(c);
    proxy.down();
    for (let i = 0; i < 5; i++) {
      await c.query(`insert into y select g, repeat('z', 100) from generate_series(1, 3000) g`);
      await c.query('select pg_switch_wal()');
    }
    await waitFor(
      async () =>
        Number(
          (await c.query<{ n: string }>('select failed_count::text as n from pg_stat_archiver'))[0]!.n,
        ) >= 2,
      60_000,
      'failed archive attempts',
      c,
    );
    const [st] = await c.query<{ last: string | null }>(
      'select last_archived_wal as last from pg_stat_archiver',
    );
    expect(st!.last).toBe(first);
    proxy.up();
    const last = await switchAndWaitArchived(c, 90_000);
    const sysid = (
      await c.query<{ s: string }>('select system_identifier::text as s from pg_control_system()')
    )[0]!.s;
    const storage = await openStorage(`s3://${s3.bucket}/o`, { endpoint: s3.endpoint });
    try {
      const names = (await storage.list(`${sysid}/wal/00000001/`))
        .map((o) => o.key.split('/').pop()!)
        .filter((n) => /^[0-9A-F]{24}$/.test(n));
      const segSize = 1 << 20;
      const nums = names.map((n) => segmentNumber(n, segSize));
      const lo = nums[0]!;
      const hi = segmentNumber(parseWalName(last).segment!, segSize);
      const expected: string[] = [];
      for (let s = lo; s <= hi; s++) expected.push(segmentName(1, s, segSize));
      expect(names).toEqual(expected);
    } finally {
      storage.close();
    }
    // Nothing left behind in the spool: every marker was consumed by the call it was for.
    await chownR(c.dir);
    const { readdirSync } = await import('node:fs');
    const left = (() => {
      try {
        return readdirSync(path.join(c.pgdata, 'pg_wal/skytools_walmgr/archive')).filter(
          (f) => !f.includes('.tmp'),
        );
      } catch {
        return [];
      }
    })();
    expect(left).toEqual([]);
  });

  it('a backup whose WAL cannot be archived fails after --archive-timeout and says why', async () => {
    proxy.down();
    try {
      // The archiver fails before the backup ends (else the backup stores its own stop segment,
      // backup-wal.ts, and succeeds: a failure it has not seen yet it cannot report).
      const [{ n: before }] = (await c.query<{ n: string }>(
        'select failed_count::text as n from pg_stat_archiver',
      )) as [{ n: string }];
      await c.query(`insert into y select g, 'w' from generate_series(1, 10) g`);
      await c.query('select pg_switch_wal()');
      await waitFor(
        async () =>
          (await c.query<{ n: string }>('select failed_count::text as n from pg_stat_archiver'))[0]!.n !==
          before,
        60_000,
        'an archiver failure',
        c,
      );
      const t0 = Date.now();
      // The backup's own files go straight to S3; only the archiver's path is cut.
      const repo = ['--repo', `s3://${s3.bucket}/o`, '--endpoint', s3.endpoint];
      const b = await walmgr([
        'backup',
        ...repo,
        '--s3-conditional-put',
        'off',
        '--db',
        c.url,
        '--archive-timeout',
        '6',
      ]);
      expect(b.code).not.toBe(0);
      expect(b.stderr).toMatch(/did not reach .* within 6 s/);
      expect(b.stderr).toMatch(/archive_command FAILING on [0-9A-F]{24}/);
      expect(Date.now() - t0).toBeLessThan(60_000);
      const l = await walmgr(['listbackups', ...repo, '--json']);
      expect(JSON.parse(l.stdout)).toEqual([]);
    } finally {
      proxy.up();
    }
  });

  it('refuses a bad --archive-timeout before touching the database', async () => {
    const b = await walmgr([
      'backup',
      '--repo',
      `s3://${s3.bucket}/o`,
      '--db',
      c.url,
      '--archive-timeout',
      'soon',
    ]);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toContain('--archive-timeout "soon": expected seconds');
  });
});
