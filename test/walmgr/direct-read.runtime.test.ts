// The SDK-free S3 reader of restore's workers (layers/storage/direct-read.ts) against local
// HTTP endpoints that misbehave: a stall before the headers and mid-body fails as "timed out"
// within the idle timeout, 5xx is retried, 403 is not (its S3 error code named), 404 is "no
// object", a range is asked for with a Range header, and one connection serves many GETs.
import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openDirectReader, type ReaderSpec } from '../../layers/storage/direct-read.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function endpoint(handler: Handler): Promise<{ spec: ReaderSpec; sockets: () => number }> {
  let n = 0;
  let sockets = 0;
  const server = http.createServer((req, res) => handler(req, res, ++n));
  server.on('connection', (_s: net.Socket) => sockets++);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    spec: {
      kind: 's3',
      description: `s3://b/p at http://127.0.0.1:${port}`,
      endpoint: `http://127.0.0.1:${port}`,
      bucket: 'b',
      prefix: 'p',
      region: 'us-east-1',
      pathStyle: true,
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      connectTimeoutMs: 2000,
      idleTimeoutMs: 300,
      deadlineMs: 5000,
      maxAttempts: 3,
    },
    sockets: () => sockets,
  };
}

describe('direct S3 reader', () => {
  it('GETs signed objects and ranges over one kept-alive connection; 404 is no object', async () => {
    const seen: { url: string; range?: string; auth?: string }[] = [];
    const { spec, sockets } = await endpoint((req, res) => {
      seen.push({ url: req.url!, range: req.headers.range, auth: req.headers.authorization });
      if (req.url!.endsWith('/missing')) {
        res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
        return;
      }
      const body = Buffer.from('0123456789');
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (m)
        res
          .writeHead(206, { 'content-length': Number(m[2]) - Number(m[1]) + 1 })
          .end(body.subarray(Number(m[1]), Number(m[2]) + 1));
      else res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    const r = openDirectReader(spec);
    try {
      expect((await r.read('a/x~1'))?.toString()).toBe('0123456789');
      expect((await r.read('a/x~1', { start: 2, end: 5 }))?.toString()).toBe('234');
      expect(await r.read('a/missing')).toBeNull();
      expect(seen.map((s) => s.url)).toEqual(['/b/p/a/x~1', '/b/p/a/x~1', '/b/p/a/missing']);
      expect(seen[1]!.range).toBe('bytes=2-4');
      expect(seen[0]!.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=k\/\d{8}\/us-east-1\/s3\/aws4_request/);
      expect(sockets()).toBe(1);
    } finally {
      r.close();
    }
  });

  it('retries 5xx, and fails a 403 at once naming the S3 error code', async () => {
    const { spec } = await endpoint((req, res, n) => {
      if (req.url!.endsWith('/flaky') && n <= 2)
        res.writeHead(503).end('<Error><Code>SlowDown</Code></Error>');
      else if (req.url!.endsWith('/flaky')) res.writeHead(200, { 'content-length': 2 }).end('ok');
      else res.writeHead(403).end('<Error><Code>AccessDenied</Code><Message>no</Message></Error>');
    });
    const r = openDirectReader(spec);
    try {
      expect((await r.read('flaky'))?.toString()).toBe('ok');
      await expect(r.read('denied')).rejects.toThrow(/GET denied on s3:\/\/b\/p.*AccessDenied \(HTTP 403\)/);
    } finally {
      r.close();
    }
  });

  it('fails as "timed out" when the endpoint stalls before the headers or mid-body', async () => {
    const { spec } = await endpoint((req, res) => {
      if (req.url!.endsWith('/mid')) {
        res.writeHead(200, { 'content-length': 100 });
        res.write('only a part');
      }
      // otherwise: never answer
    });
    const r = openDirectReader(spec);
    try {
      const t0 = Date.now();
      await expect(r.read('silent')).rejects.toThrow(/timed out/);
      await expect(r.read('mid')).rejects.toThrow(/timed out/);
      // Three attempts each, 300 ms idle apiece plus backoff: well under the 5 s deadline.
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      r.close();
    }
  });
});
