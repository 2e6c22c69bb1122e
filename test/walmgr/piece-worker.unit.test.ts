// Restore's worker threads: each reads its objects itself (here from a local repository), takes
// every file an object holds (a bundle: several, at their offsets), decompresses, checks size and
// SHA-256 and writes at an offset; errors are reported rather than thrown away, a whole file that
// fails its check is removed, and a worker that dies fails its work instead of hanging.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStorage } from '../../layers/storage/local.ts';
import { Decompressor } from '../../layers/walmgr/codec.ts';
import { type Extract, PieceWorkers } from '../../layers/walmgr/piece-worker.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const z = (b: Buffer) => zlib.zstdCompressSync(b);

describe('restore worker threads', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-piece-worker-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes checked pieces at their offsets and reports bad ones', async () => {
    const workers = new PieceWorkers(2);
    try {
      const file = path.join(dir, 'rel');
      // Pieces land in any order into a file nobody created first; 600 KiB each spans several
      // of the decompressor's output chunks.
      const pieces = [0, 1, 2].map((n) => Buffer.alloc(600_000, 65 + n));
      const results = await Promise.all(
        [2, 0, 1].map((n) => {
          const p = pieces[n]!;
          const body = z(p);
          return workers.run({
            key: `rel~${n}`,
            body,
            codec: 'zstd',
            extracts: [
              {
                srcOffset: 0,
                srcLength: body.length,
                size: p.length,
                sha256: sha(p),
                dest: file,
                offset: n * 600_000,
                mode: 0o600,
              },
            ],
          });
        }),
      );
      expect(results.map((r) => r.results[0]!.size)).toEqual([600_000, 600_000, 600_000]);
      expect(readFileSync(file)).toEqual(Buffer.concat(pieces));

      const other = z(Buffer.from('other'));
      const wrong = await workers.run({
        key: 'w',
        body: other,
        codec: 'zstd',
        extracts: [
          {
            srcOffset: 0,
            srcLength: other.length,
            size: 5,
            sha256: sha(Buffer.from('right')),
            dest: path.join(dir, 'never'),
            offset: -1,
            mode: 0o600,
          },
        ],
      });
      expect(wrong.results[0]!.sha256).toBe(sha(Buffer.from('other')));
      // A whole file that fails its check does not stay behind.
      expect(existsSync(path.join(dir, 'never'))).toBe(false);

      const garbage = await workers.run({
        key: 'g',
        body: Buffer.from('not zstd at all'),
        codec: 'zstd',
        extracts: [
          { srcOffset: 0, srcLength: 15, size: 10, sha256: '', dest: null, offset: -1, mode: 0o600 },
        ],
      });
      expect(garbage.results[0]!.error).toMatch(/does not decompress as zstd/);
    } finally {
      await workers.close();
    }
  });

  it('reads objects itself: several files of one bundle, a range of it, a missing key', async () => {
    const repo = path.join(dir, 'repo');
    const storage = new LocalStorage(repo);
    const files = [Buffer.from('first file'), Buffer.alloc(0), Buffer.alloc(300_000, 7), Buffer.from('last')];
    const bodies = files.map(z);
    await storage.put('b/~bundle-0', Buffer.concat(bodies));
    const workers = new PieceWorkers(1, await storage.readerSpec());
    try {
      let at = 0;
      const extracts: Extract[] = files.map((f, i) => {
        const x = {
          srcOffset: at,
          srcLength: bodies[i]!.length,
          size: f.length,
          sha256: sha(f),
          dest: path.join(dir, `f${i}`),
          offset: -1,
          mode: 0o640,
        };
        at += bodies[i]!.length;
        return x;
      });
      const all = await workers.run({ key: 'b/~bundle-0', codec: 'zstd', extracts });
      expect(all.results.map((r) => r.sha256)).toEqual(files.map(sha));
      for (const [i, f] of files.entries()) expect(readFileSync(path.join(dir, `f${i}`))).toEqual(f);
      // Only the last two files: the span from the third's start, offsets relative to it.
      const start = extracts[2]!.srcOffset;
      const part = await workers.run({
        key: 'b/~bundle-0',
        range: { start, end: at },
        codec: 'zstd',
        extracts: extracts.slice(2).map((x) => ({ ...x, srcOffset: x.srcOffset - start, dest: null })),
      });
      expect(part.results.map((r) => r.sha256)).toEqual(files.slice(2).map(sha));
      expect(await workers.run({ key: 'b/none', codec: 'zstd', extracts: [] })).toMatchObject({
        missing: true,
      });
    } finally {
      await workers.close();
    }
  });

  it('checks the stored bytes when the manifest names their SHA-256 (format 3)', async () => {
    const workers = new PieceWorkers(1);
    try {
      const plain = Buffer.from(Array.from({ length: 700_000 }, (_, i) => (i * 31) % 253));
      const body = zlib.zstdCompressSync(plain, { params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } });
      const file = path.join(dir, 'stored');
      const x: Extract = {
        srcOffset: 0,
        srcLength: body.length,
        size: plain.length,
        sha256: sha(plain),
        storedSha256: sha(body),
        dest: file,
        offset: -1,
        mode: 0o600,
      };
      const ok = await workers.run({ key: 's', body: Buffer.from(body), codec: 'zstd', extracts: [x] });
      expect(ok.results[0]).toEqual({ size: plain.length, sha256: sha(body) });
      expect(readFileSync(file)).toEqual(plain);
      // Another object of the same codec and size (a swapped object): its stored hash differs.
      const other = Buffer.from(plain);
      other[5] = 0;
      const swapped = zlib.zstdCompressSync(other, { params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } });
      const r = await workers.run({
        key: 's2',
        body: swapped,
        codec: 'zstd',
        extracts: [{ ...x, srcLength: swapped.length }],
      });
      expect(r.results[0]!.size).toBe(plain.length);
      expect(r.results[0]!.sha256).toBe(sha(swapped));
      expect(existsSync(file)).toBe(false); // removed: it failed its check
      // A flipped byte in the frame's data: zstd's content checksum or the stored hash says so.
      const flipped = Buffer.from(body);
      flipped[flipped.length >> 1]! ^= 0x10;
      const f = await workers.run({
        key: 's3',
        body: flipped,
        codec: 'zstd',
        extracts: [{ ...x, dest: null }],
      });
      const got = f.results[0]!;
      expect(got.error !== undefined || got.sha256 !== sha(body)).toBe(true);
      // The frame's content checksum is checked by the decompressor itself.
      const badSum = Buffer.from(body);
      badSum[badSum.length - 1]! ^= 0x01;
      const c = await workers.run({
        key: 's4',
        body: badSum,
        codec: 'zstd',
        extracts: [{ ...x, dest: null }],
      });
      expect(c.results[0]!.error).toMatch(/checksum/);
    } finally {
      await workers.close();
    }
  });

  it('fails work for a worker that died instead of waiting forever', async () => {
    const workers = new PieceWorkers(1);
    try {
      await (workers as any).workers[0].w.terminate();
      await expect(
        workers.run({ key: 'x', body: Buffer.from('x'), codec: 'none', extracts: [] }),
      ).rejects.toThrow(/exited/);
    } finally {
      await workers.close();
    }
  });
});

describe('Decompressor', () => {
  it('gives the same bytes as zlib for every codec, in chunks, across objects', () => {
    const d = new Decompressor();
    const data = Buffer.from(Array.from({ length: 900_000 }, (_, i) => (i * 7919) % 251));
    const small = data.subarray(0, 1000);
    const packed: [string, Buffer, Buffer][] = [
      ['zstd', zlib.zstdCompressSync(data), data],
      ['gzip', zlib.gzipSync(data), data],
      ['brotli', zlib.brotliCompressSync(data), data],
      ['none', data, data],
      ['zstd', zlib.zstdCompressSync(small), small],
    ];
    for (const [codec, body, want] of packed) {
      const parts: Buffer[] = [];
      const n = d.each(codec, body, data.length, (c) => parts.push(Buffer.from(c)));
      expect(n).toBe(want.length);
      expect(Buffer.concat(parts)).toEqual(want);
    }
    // Garbage fails (a flipped byte inside a frame may decompress to other bytes: the SHA-256
    // check catches those), a truncated frame gives fewer bytes, and the next object is fine.
    expect(() => d.each('zstd', Buffer.from('not a zstd frame'), 16, () => {})).toThrow(
      /does not decompress as zstd/,
    );
    const cut = packed[0]![1].subarray(0, packed[0]![1].length - 3);
    let got = -1;
    try {
      got = d.each('zstd', cut, data.length, () => {});
    } catch {}
    expect(got).toBeLessThan(data.length);
    expect(d.each('zstd', packed[0]![1], data.length, () => {})).toBe(data.length);
  });
});
