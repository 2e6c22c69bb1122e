// The storage interface, same contract on both backends: a local directory and S3 over HTTP.
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import { S3Storage } from '../../layers/storage/s3.ts';
import { DirectS3Storage } from '../../layers/storage/s3-direct.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { type S3Endpoint, startS3, tempDir } from './harness.ts';

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function contract(name: string, open: () => Promise<{ storage: Storage; done: () => Promise<void> }>) {
  describe(`storage contract: ${name}`, () => {
    let storage: Storage;
    let done: () => Promise<void>;
    beforeAll(async () => {
      ({ storage, done } = await open());
    });
    afterAll(async () => {
      storage.close();
      await done();
    });

    it('returns null for missing objects and ignores deleting them', async () => {
      expect(await storage.get('nope/x')).toBeNull();
      expect(await storage.head('nope/x')).toBeNull();
      expect(await storage.getStream('nope/x')).toBeNull();
      expect(await storage.list('nope/')).toEqual([]);
      await storage.delete('nope/x');
    });

    it('puts, heads, gets, lists and deletes with metadata', async () => {
      const body = randomBytes(1000);
      expect(await storage.put('a/b/one', body, { metadata: { sha256: 'abc', size: '1000' } })).toBe(
        'created',
      );
      await storage.put('a/b/two', Buffer.from('2'));
      await storage.put('a/c', Buffer.from('3'));
      const h = await storage.head('a/b/one');
      expect(h).toMatchObject({ key: 'a/b/one', size: 1000, metadata: { sha256: 'abc', size: '1000' } });
      const g = await storage.get('a/b/one');
      expect(g!.body.equals(body)).toBe(true);
      expect(g!.info.metadata.sha256).toBe('abc');
      expect((await storage.list('a/b/')).map((o) => [o.key, o.size])).toEqual([
        ['a/b/one', 1000],
        ['a/b/two', 1],
      ]);
      expect((await storage.list('a/')).map((o) => o.key)).toEqual(['a/b/one', 'a/b/two', 'a/c']);
      await storage.delete('a/b/two');
      expect(await storage.head('a/b/two')).toBeNull();
    });

    it('puts only if absent when asked', async () => {
      expect(await storage.put('cond/x', Buffer.from('first'), { ifAbsent: true })).toBe('created');
      expect(await storage.put('cond/x', Buffer.from('second'), { ifAbsent: true })).toBe('exists');
      expect((await storage.get('cond/x'))!.body.toString()).toBe('first');
      expect(await storage.put('cond/x', Buffer.from('third'))).toBe('created');
      expect((await storage.get('cond/x'))!.body.toString()).toBe('third');
    });

    it('streams large objects in and out (multipart on S3)', async () => {
      const big = randomBytes(20 * 1024 * 1024);
      const chunks = Array.from({ length: 20 }, (_, i) => big.subarray(i << 20, (i + 1) << 20));
      expect(await storage.put('big/obj', Readable.from(chunks), { metadata: { kind: 'big' } })).toBe(
        'created',
      );
      const s = await storage.getStream('big/obj');
      expect(s!.info.metadata.kind).toBe('big');
      expect((await readAll(s!.body)).equals(big)).toBe(true);
    });

    it('lists by delimiter: each "directory" is one prefix, the objects beside them as they are', async () => {
      const keys = [
        'd/1/data/x',
        'd/1/data/y/z',
        'd/1/manifest.json',
        'd/2/data/x',
        'd/3/manifest.json',
        'd/top',
      ];
      for (const k of keys) await storage.put(k, Buffer.from(k), { metadata: { k: 'v' } });
      const byData = await storage.listDelimited('d/', '/data/');
      expect(byData.prefixes).toEqual(['d/1/data/', 'd/2/data/']);
      expect(byData.objects.map((o) => [o.key, o.size])).toEqual([
        ['d/1/manifest.json', 17],
        ['d/3/manifest.json', 17],
        ['d/top', 5],
      ]);
      expect(await storage.listDelimited('d/', '/')).toMatchObject({
        prefixes: ['d/1/', 'd/2/', 'd/3/'],
        objects: [{ key: 'd/top' }],
      });
      // A delimiter inside a file name rolls up at its first occurrence after the prefix.
      expect((await storage.listDelimited('d/1/', 'a/')).prefixes).toEqual(['d/1/data/']);
      expect((await storage.listDelimited('d/', 'x')).prefixes).toEqual(['d/1/data/x', 'd/2/data/x']);
      expect(await storage.listDelimited('nope/', '/')).toEqual({ objects: [], prefixes: [] });
    });

    it('rejects keys that could escape the repository', async () => {
      await expect(storage.put('../x', Buffer.from('x'))).rejects.toThrow(/invalid storage key/);
      await expect(storage.head('/abs')).rejects.toThrow(/invalid storage key/);
    });
  });
}

contract('local directory', async () => {
  const dir = await tempDir('storage');
  const storage = await openStorage(dir);
  return {
    storage,
    done: async () => {
      // Atomic writes leave no temp files behind.
      const walk = (d: string): string[] =>
        readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(`${d}/${e.name}`) : [e.name],
        );
      expect(walk(dir).filter((n) => n.includes('.skytmp.'))).toEqual([]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('local directory owned by another user', () => {
  it.runIf(process.getuid?.() === 0)(
    'gives what root creates the repository owner, so the postgres archiver can still write',
    async () => {
      const dir = await tempDir('owner'); // owned by postgres
      const owner = statSync(dir);
      expect(owner.uid).not.toBe(0);
      const storage = await openStorage(dir);
      try {
        await storage.put('123/backups/b1/base/1/1259', Buffer.from('x'), { metadata: {} });
        for (const p of ['123', '123/backups', '123/backups/b1', '123/backups/b1/base/1/1259']) {
          const st = statSync(`${dir}/${p}`);
          expect([p, st.uid, st.gid]).toEqual([p, owner.uid, owner.gid]);
        }
      } finally {
        storage.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

const s3Options = (s3: S3Endpoint) => ({
  endpoint: s3.endpoint,
  // fauxqs ignores If-None-Match, so the check-then-put mode is what runs against it.
  conditionalPut: Boolean(process.env.AWS_ENDPOINT_URL),
  multipartThreshold: 6 * 1024 * 1024,
});

contract('S3 over HTTP, without the SDK (credentials in the environment)', async () => {
  const s3: S3Endpoint = await startS3('storage-contract');
  const storage = await openStorage(`s3://${s3.bucket}/c`, s3Options(s3));
  expect(storage).toBeInstanceOf(DirectS3Storage);
  return { storage, done: () => s3.stop() };
});

contract('S3 over HTTP, through the AWS SDK', async () => {
  const s3: S3Endpoint = await startS3('storage-contract-sdk');
  const storage = new S3Storage({ bucket: s3.bucket, prefix: 'c', ...s3Options(s3) });
  return { storage, done: () => s3.stop() };
});

describe('openStorage on S3', () => {
  it('goes without the SDK when the credentials are in the environment, through it otherwise', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    try {
      process.env.AWS_ACCESS_KEY_ID = 'k';
      process.env.AWS_SECRET_ACCESS_KEY = 's';
      const direct = await openStorage('s3://b/p', { endpoint: 'http://127.0.0.1:9' });
      expect(direct).toBeInstanceOf(DirectS3Storage);
      direct.close();
      delete process.env.AWS_ACCESS_KEY_ID;
      const sdk = await openStorage('s3://b/p', { endpoint: 'http://127.0.0.1:9' });
      expect(sdk).toBeInstanceOf(S3Storage);
      sdk.close();
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });
});

// Timeouts against endpoints that never answer: s3-timeouts.runtime.test.ts.

describe('S3 request signing', () => {
  // What the SDK would send, captured after signing (deserialize step) instead of sending it.
  async function signedPutHeaders(endpoint: string): Promise<Record<string, string>> {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    const storage = new S3Storage({ bucket: 'signing', prefix: 'p', endpoint, maxAttempts: 1 });
    let headers: Record<string, string> = {};
    (storage as any).client.middlewareStack.add(
      () => async (args: any) => {
        headers = { ...args.request.headers };
        throw new Error('captured');
      },
      { step: 'deserialize', name: 'captureSignedRequest' },
    );
    try {
      await expect(storage.put('k', Buffer.alloc(4096, 1))).rejects.toThrow(/captured/);
    } finally {
      storage.close();
    }
    return headers;
  }

  it('signs uploads with UNSIGNED-PAYLOAD over TLS, keeping the CRC32 checksum', async () => {
    const h = await signedPutHeaders('https://127.0.0.1:9');
    expect(h['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(h['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/=]{8}$/);
    expect(h.authorization).toContain('x-amz-content-sha256');
  });

  it('keeps the signed payload hash over plain HTTP', async () => {
    const h = await signedPutHeaders('http://127.0.0.1:9');
    expect(h['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
  });
});
