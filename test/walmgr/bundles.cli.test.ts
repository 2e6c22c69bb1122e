// Bundles (manifest format 2, and 3: stored bytes' SHA-256): a backup stores its small files in a
// few bundle objects, each file listed with its place; restore takes each bundle in one GET and
// checks every file in it. Backups in the earlier formats (format 1: one object per file; format
// 2: checked by the plain SHA-256, no zstd frame checksum) still restore and verify; a damaged file
// inside a bundle is named by verify and stops restore; restore ends with one syncfs of the
// target's file system (seen with strace) before it reports success.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import { BUNDLE_FILE_MAX } from '../../layers/walmgr/bundle.ts';
import { SMALL_FILE } from '../../layers/walmgr/durable.ts';
import { backupFileKey, backupPrefix, bundleKey, manifestKey, pieceKey } from '../../layers/walmgr/layout.ts';
import { type Manifest, readManifest } from '../../layers/walmgr/manifest.ts';
import { verifyObject } from '../../layers/walmgr/verify-object.ts';
import {
  archiveCommand,
  CLI,
  type Cluster,
  createCluster,
  startRestored,
  switchAndWaitArchived,
  tempDir,
  walmgr,
} from './harness.ts';

const run = promisify(execFile);
const LEGACY = '20000101T000000.000Z';
const FORMAT2 = '20000102T000000.000Z';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('walmgr bundles', () => {
  let repo: string;
  let primary: Cluster;
  let m: Manifest;
  const cleanup: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    repo = await tempDir('bundles');
    cleanup.push(() => rmSync(repo, { recursive: true, force: true }));
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    primary = await createCluster({ archiveCommand: archiveCommand(`--repo ${repo}`) });
    cleanup.push(() => primary.destroy());
    await primary.start();
    await primary.query('create table t (id int primary key, v text not null)');
    await primary.query(`insert into t select g, md5(g::text) from generate_series(1, 20000) g`);
    const b = await walmgr(['backup', '--repo', repo, '--db', primary.url, '--piece-size', '256k']);
    expect(b.code, b.stderr).toBe(0);
    await switchAndWaitArchived(primary);
    const storage = await openStorage(repo);
    try {
      const [sysid] = (await storage.list(''))
        .map((o) => o.key.split('/')[0]!)
        .filter((k) => /^\d+$/.test(k));
      const id = (await storage.list(`${sysid}/backups/`))
        .find((o) => o.key.endsWith('manifest.json'))!
        .key.split('/')[2]!;
      m = await readManifest(storage, sysid!, id);
    } finally {
      storage.close();
    }
  }, 240_000);

  afterAll(async () => {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => {});
  });

  async function restoreAndCount(extra: string[]): Promise<{ n: number; stderr: string }> {
    const dir = await tempDir('bundles-restore');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const pgdata = path.join(dir, 'data');
    const r = await walmgr(['restore', '--repo', repo, '--pgdata', pgdata, ...extra]);
    expect(r.code, r.stderr).toBe(0);
    const c = await startRestored(pgdata, 60_000);
    cleanup.push(() => c.destroy());
    const [row] = await c.query<{ n: number }>('select count(*)::int as n from t');
    await c.stop();
    return { n: row!.n, stderr: r.stderr };
  }

  it('stores the small files in a few bundles, each file listed with its place', async () => {
    expect(m.format).toBe(3);
    // Format 3: every file and piece names the SHA-256 of its stored bytes, and zstd frames
    // carry their content checksum (frame header descriptor bit 2).
    for (const f of m.files) {
      if (f.pieces) for (const p of f.pieces) expect(p.storedSha256).toMatch(/^[0-9a-f]{64}$/);
      else expect(f.storedSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(f.sha256.length > 0 || f.pieces !== undefined).toBe(true);
    }
    const bundled = m.files.filter((f) => f.bundle);
    // A fresh cluster: hundreds of small files, in a bundle or two.
    expect(bundled.length).toBeGreaterThan(500);
    for (const f of bundled) expect(f.storedSize).toBeLessThanOrEqual(BUNDLE_FILE_MAX);
    expect(m.files.some((f) => f.pieces)).toBe(true);
    const storage = await openStorage(repo);
    try {
      const objects = await storage.list(`${backupPrefix(m.systemId, m.id)}/data/`);
      const bundles = objects.filter((o) => o.key.includes('/~bundle-'));
      expect(bundles.length).toBeGreaterThanOrEqual(1);
      // One object per bundle, per piece and per file too big for a bundle: nothing else.
      const own = m.files.filter((f) => !f.bundle && !f.pieces).length;
      const pieces = m.files.reduce((t, f) => t + (f.pieces?.length ?? 0), 0);
      expect(objects.length).toBe(own + pieces + bundles.length);
      expect(own).toBeLessThan(bundled.length / 10);
      // Each bundle holds exactly its files' bytes, back to back.
      for (const b of bundles) {
        const n = Number(b.key.split('~bundle-')[1]);
        const inIt = bundled.filter((f) => f.bundle!.n === n);
        expect(b.size).toBe(inIt.reduce((t, f) => t + f.storedSize, 0));
      }
    } finally {
      storage.close();
    }
    const v = await walmgr(['verify', '--repo', repo]);
    expect(v.stdout, v.stderr).toContain(': ok');
    expect(v.code).toBe(0);
    // The wal-verify Lambda's check of a new manifest: every bundle stored with its size.
    const s2 = await openStorage(repo);
    try {
      expect((await verifyObject(s2, manifestKey(m.systemId, m.id))).problems).toEqual([]);
    } finally {
      s2.close();
    }
  });

  it('restores a bundled backup with every row', async () => {
    const r = await restoreAndCount(['--backup', m.id]);
    expect(r.n).toBe(20000);
    expect(r.stderr).toMatch(/restore: flushed to disk \((syncfs|fsync), 1 file system\(s\)\)/);
  }, 180_000);

  it('restores a backup in the earlier format (format 1: one object per file)', async () => {
    // What earlier versions wrote: the same files, each in its own object, no bundles.
    const storage = await openStorage(repo);
    try {
      const bodies = new Map<number, Buffer>();
      for (const f of m.files) {
        if (f.bundle) {
          if (!bodies.has(f.bundle.n))
            bodies.set(f.bundle.n, (await storage.get(bundleKey(m.systemId, m.id, f.bundle.n)))!.body);
          const b = bodies.get(f.bundle.n)!;
          await storage.put(
            backupFileKey(m.systemId, LEGACY, f.path),
            b.subarray(f.bundle.offset, f.bundle.offset + f.storedSize),
          );
        } else if (f.pieces) {
          for (const n of f.pieces.keys()) {
            const k = pieceKey(backupFileKey(m.systemId, m.id, f.path), n);
            await storage.put(
              pieceKey(backupFileKey(m.systemId, LEGACY, f.path), n),
              (await storage.get(k))!.body,
            );
          }
        } else {
          const k = backupFileKey(m.systemId, m.id, f.path);
          await storage.put(backupFileKey(m.systemId, LEGACY, f.path), (await storage.get(k))!.body);
        }
      }
      const legacy = {
        ...m,
        format: 1,
        id: LEGACY,
        files: m.files.map(({ bundle: _, storedSha256: _s, ...f }) => ({
          ...f,
          ...(f.pieces ? { pieces: f.pieces.map(({ storedSha256: _p, ...p }) => p) } : {}),
        })),
      };
      await storage.put(manifestKey(m.systemId, LEGACY), Buffer.from(JSON.stringify(legacy)));
      expect(await storage.list(`${backupPrefix(m.systemId, LEGACY)}/data/~`)).toEqual([]);
    } finally {
      storage.close();
    }
    const v = await walmgr(['verify', '--repo', repo, '--backup', LEGACY]);
    expect(v.stdout, v.stderr).toContain(': ok');
    expect((await restoreAndCount(['--backup', LEGACY])).n).toBe(20000);
  }, 180_000);

  it('restores and verifies a format 2 backup: plain SHA-256, no frame checksums', async () => {
    // What format 2 wrote: the same layout, objects compressed without zstd's frame checksum,
    // no storedSha256 in the manifest.
    const storage = await openStorage(repo);
    let files: Manifest['files'];
    let bad: { key: string; body: Buffer; at: number } | null = null;
    try {
      const redo = (b: Buffer) => zlib.zstdCompressSync(zlib.zstdDecompressSync(b));
      const bundles = new Map<number, Buffer[]>();
      const offsets = new Map<number, number>();
      files = [];
      for (const f of m.files) {
        const { storedSha256: _, ...g } = f;
        if (f.bundle) {
          const src = (await storage.get(bundleKey(m.systemId, m.id, f.bundle.n)))!.body;
          const body = redo(src.subarray(f.bundle.offset, f.bundle.offset + f.storedSize));
          expect(body[4]! & 4).toBe(0); // no content checksum in the frame
          const at = offsets.get(f.bundle.n) ?? 0;
          bundles.set(f.bundle.n, [...(bundles.get(f.bundle.n) ?? []), body]);
          offsets.set(f.bundle.n, at + body.length);
          files.push({ ...g, storedSize: body.length, bundle: { n: f.bundle.n, offset: at } });
        } else if (f.pieces) {
          const pieces = [];
          for (const [n, p] of f.pieces.entries()) {
            const src = (await storage.get(pieceKey(backupFileKey(m.systemId, m.id, f.path), n)))!.body;
            expect(src[4]! & 4).toBe(4); // format 3 wrote the checksum
            const body = redo(src);
            const key = pieceKey(backupFileKey(m.systemId, FORMAT2, f.path), n);
            await storage.put(key, body);
            bad ??= { key, body, at: body.length >> 1 };
            const { storedSha256: _p, ...q } = p;
            pieces.push({ ...q, storedSize: body.length });
          }
          files.push({ ...g, pieces, storedSize: pieces.reduce((t, p) => t + p.storedSize, 0) });
        } else {
          const src = (await storage.get(backupFileKey(m.systemId, m.id, f.path)))!.body;
          const body = redo(src);
          await storage.put(backupFileKey(m.systemId, FORMAT2, f.path), body);
          files.push({ ...g, storedSize: body.length });
        }
      }
      for (const [n, parts] of bundles)
        await storage.put(bundleKey(m.systemId, FORMAT2, n), Buffer.concat(parts));
      await storage.put(
        manifestKey(m.systemId, FORMAT2),
        Buffer.from(JSON.stringify({ ...m, format: 2, id: FORMAT2, files })),
      );
    } finally {
      storage.close();
    }
    // Sanity: the plain hashes still describe the re-compressed objects.
    expect(files.filter((f) => f.bundle).length).toBe(m.files.filter((f) => f.bundle).length);
    const v = await walmgr(['verify', '--repo', repo, '--backup', FORMAT2]);
    expect(v.stdout, v.stderr).toContain(': ok');
    expect((await restoreAndCount(['--backup', FORMAT2])).n).toBe(20000);
    // A flipped byte in one of its pieces is still found by the plain SHA-256 (or zstd).
    const s2 = await openStorage(repo);
    try {
      const body = Buffer.from(bad!.body);
      body[bad!.at]! ^= 0x55;
      await s2.put(bad!.key, body);
      expect(sha(body)).not.toBe(sha(bad!.body));
    } finally {
      s2.close();
    }
    const v2 = await walmgr(['verify', '--repo', repo, '--backup', FORMAT2]);
    expect(v2.code).toBe(1);
    expect(v2.stdout).toMatch(/piece \d+/);
  }, 240_000);

  it.runIf(existsSync('/usr/bin/strace'))(
    'makes the restore durable: big files fdatasynced as their pieces land, one syncfs of the target before success',
    async () => {
      const dir = await tempDir('bundles-sync');
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const trace = path.join(dir, 'trace');
      const pgdata = path.join(dir, 'data');
      await run(
        'strace',
        [
          '-f',
          '-qq',
          '-e',
          'trace=syncfs,fdatasync,exit_group',
          '-y', // paths of the descriptors
          '-o',
          trace,
          process.execPath,
          CLI,
          'walmgr',
          'restore',
          '--repo',
          repo,
          '--backup',
          m.id,
          '--pgdata',
          pgdata,
        ],
        { maxBuffer: 1 << 24 },
      );
      const lines = readFileSync(trace, 'utf8').split('\n');
      const sync = lines.findIndex((l) => /syncfs\(\d+(<[^>]*>)?\)\s+= 0/.test(l));
      expect(sync, lines.join('\n')).toBeGreaterThanOrEqual(0);
      // Writeback started while the restore went on: every file of 1 MiB or more (here stored in
      // 256 KiB pieces) was fdatasynced before it, and no smaller one (left to the syncfs).
      const synced = new Set(
        lines
          .slice(0, sync)
          .map((l) => /fdatasync\(\d+<([^>]+)>\)\s+= 0/.exec(l)?.[1])
          .filter((p): p is string => p !== undefined)
          .map((p) => path.relative(pgdata, p)),
      );
      const big = m.files.filter((f) => f.size >= SMALL_FILE).map((f) => f.path);
      expect(big.length).toBeGreaterThan(0);
      expect([...synced].sort()).toEqual(big.sort());
      // After every file was written: the last thing before the processes exit.
      expect(lines.slice(sync + 1).filter((l) => l.includes('syncfs')).length).toBe(0);
      expect(existsSync(path.join(pgdata, 'recovery.signal'))).toBe(true);
    },
    120_000,
  );

  // Last: it damages the backup.
  it('names a damaged file inside a bundle: verify reports it, restore stops', async () => {
    const f = m.files.find((x) => x.bundle && x.storedSize > 64)!;
    const storage = await openStorage(repo);
    try {
      const key = bundleKey(m.systemId, m.id, f.bundle!.n);
      const obj = (await storage.get(key))!;
      const body = Buffer.from(obj.body);
      body[f.bundle!.offset + (f.storedSize >> 1)]! ^= 0xff;
      await storage.put(key, body, { metadata: obj.info.metadata });
    } finally {
      storage.close();
    }
    // And one byte of a piece of the big table (format 3: caught by the stored bytes' SHA-256).
    const big = m.files.find((x) => x.pieces && x.pieces.length > 1)!;
    const pkey = pieceKey(backupFileKey(m.systemId, m.id, big.path), 1);
    const s2 = await openStorage(repo);
    try {
      const obj = (await s2.get(pkey))!;
      const body = Buffer.from(obj.body);
      body[body.length >> 1]! ^= 0x01;
      await s2.put(pkey, body, { metadata: obj.info.metadata });
    } finally {
      s2.close();
    }
    const v = await walmgr(['verify', '--repo', repo, '--backup', m.id]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`${f.path} in bundle ${bundleKey(m.systemId, m.id, f.bundle!.n)}`);
    expect(v.stdout).toContain(`${big.path} piece 1`);
    const dir = await tempDir('bundles-bad');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = await walmgr(['restore', '--repo', repo, '--backup', m.id, '--pgdata', path.join(dir, 'data')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(f.path);
    expect(r.stderr).toContain('in bundle');
    expect(r.stderr).not.toContain('restore: done');
  }, 120_000);
});
