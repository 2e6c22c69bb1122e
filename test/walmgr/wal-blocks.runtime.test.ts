// The blocks a stretch of WAL changed (layers/walmgr/wal-blocks.ts), read from a real server's
// WAL and checked against PostgreSQL's own pg_waldump on the same records: 1 MiB segments (so
// records cross pages and segments), inserts, updates, deletes, full-page images, an index,
// TOASTed rows, a segment switch, a vacuum that truncates, a TRUNCATE (a new relfilenode).
// Also: a database created in the window gives no answer, and so does a missing or recycled
// segment.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLsn, segmentName } from '../../layers/walmgr/wal.ts';
import { NoWalChanges, relationFile, relationOf, walChanges } from '../../layers/walmgr/wal-blocks.ts';
import { type Cluster, createCluster } from './harness.ts';

const WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';
const SEG = 1 << 20;

describe('WAL block references', () => {
  let c: Cluster;
  beforeAll(async () => {
    // Every segment of the test kept: none is recycled under the reader.
    c = await createCluster({ walSegMb: 1, conf: { wal_keep_size: '1GB', shared_buffers: '1MB' } });
    await c.start();
  }, 60_000);
  afterAll(async () => {
    await c?.destroy();
  });

  /** A record boundary: a checkpoint's redo point. */
  const redo = async () => {
    await c.query('checkpoint');
    return parseLsn(
      (await c.query<{ l: string }>('select redo_lsn::text as l from pg_control_checkpoint()'))[0]!.l,
    );
  };
  const segment = async (segNo: bigint) => {
    const f = path.join(c.pgdata, 'pg_wal', segmentName(1, segNo, SEG));
    return existsSync(f) ? readFileSync(f) : null;
  };
  const fmt = (l: bigint) => `${(l >> 32n).toString(16)}/${(l & 0xffffffffn).toString(16)}`;

  it.runIf(existsSync(WALDUMP))(
    'names the main-fork blocks pg_waldump shows, record for record',
    async () => {
      const from = await redo();
      await c.query('create table t (id int primary key, v text)');
      await c.query("insert into t select g, repeat('x', 50) from generate_series(1, 20000) g");
      await c.query('create table big (id int, v text)');
      // TOASTed values: records of their own, rows crossing pages
      await c.query(
        "insert into big select g, string_agg(md5(g::text || h), '') from generate_series(1, 20) g, generate_series(1, 300) h group by g",
      );
      await c.query('select pg_switch_wal()');
      await c.query('update t set v = v || id where id % 7 = 0');
      await c.query('delete from t where id > 15000');
      await c.query('vacuum t'); // empties the tail: truncates the relation
      await c.query('create table t2 (a int)');
      await c.query('insert into t2 select generate_series(1, 1000)');
      const t2Before = (await c.query<{ f: string }>("select pg_relation_filenode('t2')::text as f"))[0]!.f;
      await c.query('truncate t2'); // a new relfilenode
      await c.query('insert into t2 values (1)');
      const to = await redo();

      const got = await walChanges({ from, to, segSize: SEG, pageSize: 8192, segment });
      const dump = execFileSync(
        WALDUMP,
        ['-p', path.join(c.pgdata, 'pg_wal'), '-s', fmt(from), '-e', fmt(to)],
        {
          encoding: 'utf8',
          maxBuffer: 256 << 20,
        },
      );
      const want = new Map<string, Set<number>>();
      let records = 0;
      for (const line of dump.split('\n')) {
        if (!line.startsWith('rmgr:')) continue;
        records++;
        for (const m of line.matchAll(/blkref #\d+: rel (\d+\/\d+\/\d+)(?: fork (\w+))? blk (\d+)/g)) {
          if (m[2] && m[2] !== 'main') continue;
          const s = want.get(m[1]!) ?? new Set<number>();
          want.set(m[1]!, s.add(Number(m[3])));
        }
      }
      expect(records).toBeGreaterThan(1000);
      expect(got.records).toBe(records);
      const sorted = (m: Map<string, Set<number>>) =>
        [...m.entries()]
          .map(([k, s]) => [k, [...s].sort((a, b) => a - b)] as const)
          .sort(([a], [b]) => (a < b ? -1 : 1));
      expect(sorted(got.blocks)).toEqual(sorted(want));

      const rel = async (name: string) =>
        (
          await c.query<{ r: string }>(
            `select (select oid from pg_database where datname = current_database()) || '/' || pg_relation_filenode($1) as r`,
            [name],
          )
        )[0]!.r;
      const t = `1663/${await rel('t')}`;
      const t2 = `1663/${await rel('t2')}`;
      expect(got.blocks.get(t)?.size).toBeGreaterThan(50);
      // the vacuum's truncation and TRUNCATE's new file: whole relations
      expect(got.whole).toContain(t);
      expect(got.whole).toContain(t2);
      expect(t2).not.toContain(`/${t2Before}`);
    },
    120_000,
  );

  it('gives no answer across a created database, or a segment it cannot have', async () => {
    const from = await redo();
    await c.query('create database other');
    const to = await redo();
    await expect(walChanges({ from, to, segSize: SEG, pageSize: 8192, segment })).rejects.toThrow(
      /database was created, moved or dropped/,
    );
    await c.query('drop database other');
    const a = await redo();
    await c.query('create table gap as select generate_series(1, 50000) g');
    const b = await redo();
    const missing = (a / BigInt(SEG) + b / BigInt(SEG)) / 2n;
    await expect(
      walChanges({
        from: a,
        to: b,
        segSize: SEG,
        pageSize: 8192,
        segment: async (n) => (n === missing ? null : segment(n)),
      }),
    ).rejects.toThrow(NoWalChanges);
    // another segment's bytes under this name (a recycled file): its page addresses say so
    await expect(
      walChanges({
        from: a,
        to: b,
        segSize: SEG,
        pageSize: 8192,
        segment: async (n) => segment(n === missing ? n - 1n : n),
      }),
    ).rejects.toThrow(/is not that page/);
    expect(
      (await walChanges({ from: a, to: b, segSize: SEG, pageSize: 8192, segment })).records,
    ).toBeGreaterThan(0);
  }, 60_000);

  it('maps relation blocks to data-directory files and back', () => {
    expect(relationFile('1663/5/16384', 7, 131072, 'PG_15_1')).toEqual({ path: 'base/5/16384', block: 7 });
    expect(relationFile('1663/5/16384', 131072 * 2 + 3, 131072, 'PG_15_1')).toEqual({
      path: 'base/5/16384.2',
      block: 3,
    });
    expect(relationFile('1664/0/1262', 0, 131072, 'PG_15_1')).toEqual({ path: 'global/1262', block: 0 });
    expect(relationFile('16500/5/16384', 1, 131072, 'PG_15_1')).toEqual({
      path: 'pg_tblspc/16500/PG_15_1/5/16384',
      block: 1,
    });
    expect(relationOf('base/5/16384.2')).toBe('1663/5/16384');
    expect(relationOf('global/1262')).toBe('1664/0/1262');
    expect(relationOf('pg_tblspc/16500/PG_15_1/5/16384')).toBe('16500/5/16384');
    expect(relationOf('base/5/16384_fsm')).toBeNull();
    expect(relationOf('base/5/PG_VERSION')).toBeNull();
  });
});
