// The S3 storage without the SDK (layers/storage/s3-direct.ts) on the wire, against a local
// endpoint that plays S3: what an upload sends (its CRC32, metadata, the conditional header, the
// body's SHA-256 signed over plain HTTP), 412/409 as "exists", listings in pages (chunked
// answers cut anywhere, entity-escaped keys, the continuation token sent back), a HEAD's size
// without a body, DELETE, 5xx retried and 403 failing at once with S3's error code. The storage
// contract on a real S3 endpoint is in storage.runtime.test.ts, timeouts in s3-timeouts.
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectS3Storage, parseListPage } from '../../layers/storage/s3-direct.ts';
import { type FakeS3, fakeS3, type S3Handler } from '../support/s3-endpoint.ts';

const servers: FakeS3[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function storageFor(handler: S3Handler, conditionalPut = true) {
  const e = await fakeS3(handler);
  servers.push(e);
  return new DirectS3Storage(e.spec, { bucket: 'b', prefix: 'p', conditionalPut });
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
  });
}

/** Writes `text` chunked, in chunks of `size` bytes, each flushed apart. */
function writeChunked(res: http.ServerResponse, text: string, size: number): void {
  res.writeHead(200, { 'content-type': 'application/xml', 'transfer-encoding': 'chunked' });
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += size) res.write(b.subarray(i, i + size));
  res.end();
}

describe('S3 storage without the SDK, on the wire', () => {
  it('uploads with its CRC32, metadata and payload hash; If-None-Match only when asked; 412 and 409 are "exists"', async () => {
    const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
    const storage = await storageFor(async (req, res, n) => {
      const body = await readBody(req);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(n === 3 ? 412 : n === 4 ? 409 : 200, { 'content-length': 0 }).end();
    });
    try {
      const body = Buffer.from('the bytes of a WAL segment');
      expect(await storage.put('7301/wal/x', body, { metadata: { compression: 'zstd', Sha256: 'ab' } })).toBe(
        'created',
      );
      expect(await storage.put('7301/wal/y', body, { ifAbsent: true })).toBe('created');
      expect(await storage.put('7301/wal/y', body, { ifAbsent: true })).toBe('exists');
      expect(await storage.put('7301/wal/y', body, { ifAbsent: true })).toBe('exists');
      const [first, second] = seen;
      expect(first!.method).toBe('PUT');
      expect(first!.url).toBe('/b/p/7301/wal/x');
      expect(first!.body.equals(body)).toBe(true);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      expect(first!.headers['x-amz-checksum-crc32']).toBe(crc.toString('base64'));
      expect(first!.headers['x-amz-meta-compression']).toBe('zstd');
      expect(first!.headers['x-amz-meta-sha256']).toBe('ab');
      expect(first!.headers['content-length']).toBe(String(body.length));
      expect(first!.headers['if-none-match']).toBeUndefined();
      // Plain HTTP: the body's SHA-256 is signed (no TLS to protect it in transit).
      expect(first!.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
      expect(first!.headers.authorization).toMatch(
        /SignedHeaders=[^,]*x-amz-checksum-crc32;[^,]*x-amz-meta-compression/,
      );
      expect(second!.headers['if-none-match']).toBe('*');
    } finally {
      storage.close();
    }
  });

  it('checks with HEAD first when the endpoint ignores If-None-Match', async () => {
    const seen: string[] = [];
    const storage = await storageFor(async (req, res) => {
      await readBody(req);
      seen.push(`${req.method} ${req.headers['if-none-match'] ?? ''}`.trim());
      if (req.method === 'HEAD') res.writeHead(200, { 'content-length': 5 }).end();
      else res.writeHead(200, { 'content-length': 0 }).end();
    }, false);
    try {
      expect(await storage.put('k', Buffer.from('x'), { ifAbsent: true })).toBe('exists');
      expect(seen).toEqual(['HEAD']);
    } finally {
      storage.close();
    }
  });

  it('lists every page of a chunked, entity-escaped answer, sending the continuation token back', async () => {
    const urls: string[] = [];
    const pages = [
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>p/d/a&amp;b</Key><LastModified>2026-12-03T19:00:00.000Z</LastModified><Size>10</Size></Contents><Contents><Key>p/d/c&lt;&#x4e2d;&#20013;</Key><Size>0</Size></Contents><CommonPrefixes><Prefix>p/d/e/</Prefix></CommonPrefixes><NextContinuationToken>1/x+y=</NextContinuationToken></ListBucketResult>`,
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>p/d/b</Key><Size>3</Size></Contents><CommonPrefixes><Prefix>p/d/e/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>p/d/f/</Prefix></CommonPrefixes></ListBucketResult>`,
    ];
    const storage = await storageFor((req, res, n) => {
      urls.push(req.url!);
      writeChunked(res, pages[n - 1]!, n === 1 ? 7 : 100);
    });
    try {
      const l = await storage.listDelimited('d/', '/');
      expect(l.objects.map((o) => [o.key, o.size])).toEqual([
        ['d/a&b', 10],
        ['d/b', 3],
        ['d/c<中中', 0],
      ]);
      expect(l.objects[0]!.lastModified?.toISOString()).toBe('2026-12-03T19:00:00.000Z');
      expect(l.prefixes).toEqual(['d/e/', 'd/f/']);
      expect(urls).toEqual([
        '/b?delimiter=%2F&list-type=2&prefix=p%2Fd%2F',
        '/b?continuation-token=1%2Fx%2By%3D&delimiter=%2F&list-type=2&prefix=p%2Fd%2F',
      ]);
    } finally {
      storage.close();
    }
  });

  it('lists a missing bucket as empty, and refuses a truncated page without a token', async () => {
    const storage = await storageFor((_req, res, n) => {
      if (n === 1) res.writeHead(404).end('<Error><Code>NoSuchBucket</Code></Error>');
      else
        res
          .writeHead(200, { 'content-type': 'application/xml' })
          .end('<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>');
    });
    try {
      expect(await storage.list('x/')).toEqual([]);
      await expect(storage.list('x/')).rejects.toThrow(
        /LIST x\/ on .* truncated listing without NextContinuationToken/,
      );
    } finally {
      storage.close();
    }
    expect(() =>
      parseListPage('<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>'),
    ).not.toThrow();
  });

  it('reads a HEAD answer without a body, deletes, retries 5xx and fails a 403 at once naming its code', async () => {
    const seen: string[] = [];
    const storage = await storageFor((req, res, n) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method === 'HEAD' && req.url!.endsWith('/there'))
        res.writeHead(200, { 'content-length': 12345, 'x-amz-meta-sha256': 'cd' }).end();
      else if (req.method === 'HEAD') res.writeHead(404, { 'content-length': 300 }).end();
      else if (req.method === 'DELETE') res.writeHead(204).end();
      else if (n === 4) res.writeHead(503).end('<Error><Code>SlowDown</Code></Error>');
      else if (n === 5) res.writeHead(200, { 'content-length': 2 }).end('ok');
      else res.writeHead(403).end('<Error><Code>AccessDenied</Code><Message>no</Message></Error>');
    });
    try {
      expect(await storage.head('there')).toMatchObject({
        key: 'there',
        size: 12345,
        metadata: { sha256: 'cd' },
      });
      expect(await storage.head('gone')).toBeNull();
      await storage.delete('gone');
      expect((await storage.get('retried'))!.body.toString()).toBe('ok');
      await expect(storage.get('denied')).rejects.toThrow(
        /GET denied on s3:\/\/b\/p .*AccessDenied \(HTTP 403\): no/,
      );
      expect(seen).toEqual([
        'HEAD /b/p/there',
        'HEAD /b/p/gone',
        'DELETE /b/p/gone',
        'GET /b/p/retried',
        'GET /b/p/retried',
        'GET /b/p/denied',
      ]);
    } finally {
      storage.close();
    }
  });

  it('refuses metadata that would break a header line', async () => {
    const storage = await storageFor((_req, res) => res.writeHead(200, { 'content-length': 0 }).end());
    try {
      await expect(storage.put('k', Buffer.from('x'), { metadata: { a: 'v\r\nx-evil: 1' } })).rejects.toThrow(
        /line break/,
      );
    } finally {
      storage.close();
    }
  });
});
