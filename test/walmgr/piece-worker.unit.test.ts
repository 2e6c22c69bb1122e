// Restore's worker threads: decompress + size/SHA-256 check + write at an offset, errors
// reported rather than thrown away, and a worker that dies fails its work instead of hanging.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { PieceWorkers } from '../../layers/walmgr/piece-worker.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('restore worker threads', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-piece-worker-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes checked pieces at their offsets and reports bad ones without writing', async () => {
    const workers = new PieceWorkers(2);
    try {
      const file = path.join(dir, 'rel');
      writeFileSync(file, Buffer.alloc(300_000));
      const pieces = [0, 1, 2].map((n) => Buffer.alloc(100_000, 65 + n));
      const results = await Promise.all(
        pieces.map((p, n) =>
          workers.run({
            body: zlib.zstdCompressSync(p),
            codec: 'zstd',
            size: p.length,
            sha256: sha(p),
            dest: file,
            offset: n * 100_000,
            mode: 0o600,
          }),
        ),
      );
      expect(results.map((r) => r.size)).toEqual([100_000, 100_000, 100_000]);
      expect(readFileSync(file)).toEqual(Buffer.concat(pieces));

      const wrong = await workers.run({
        body: zlib.zstdCompressSync(Buffer.from('other')),
        codec: 'zstd',
        size: 5,
        sha256: sha(Buffer.from('right')),
        dest: path.join(dir, 'never'),
        offset: -1,
        mode: 0o600,
      });
      expect(wrong.sha256).toBe(sha(Buffer.from('other')));
      expect(() => readFileSync(path.join(dir, 'never'))).toThrow(/ENOENT/);

      const garbage = await workers.run({
        body: Buffer.from('not zstd at all'),
        codec: 'zstd',
        size: 10,
        sha256: '',
        dest: null,
        offset: -1,
        mode: 0o600,
      });
      expect(garbage.error).toBeTruthy();
    } finally {
      await workers.close();
    }
  });

  it('fails work for a worker that died instead of waiting forever', async () => {
    const workers = new PieceWorkers(1);
    try {
      await (workers as any).workers[0].w.terminate();
      await expect(
        workers.run({
          body: Buffer.from('x'),
          codec: 'none',
          size: 1,
          sha256: '',
          dest: null,
          offset: -1,
          mode: 0,
        }),
      ).rejects.toThrow(/exited/);
    } finally {
      await workers.close();
    }
  });
});
