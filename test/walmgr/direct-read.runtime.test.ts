// The SDK-free S3 reader of restore's workers (layers/storage/direct-read.ts) against local
// HTTP endpoints that misbehave: a stall before the headers and mid-body fails as "timed out"
// within the idle timeout, 5xx is retried, 403 is not (its S3 error code named), 404 is "no
// object", a range is asked for with a Range header, and one connection serves many GETs.
// The HTTP/1.1 client under it (layers/storage/http1.ts, reading into one static buffer) is also
// fed raw answers: headers and bodies cut at every few bytes, chunked error bodies, "Connection:
// close", a kept-alive socket the server drops, a body longer than its Content-Length; and a
// large object over TLS (certificate checked against NODE_EXTRA_CA_CERTS, in a child process).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { openDirectReader, type ReaderSpec } from '../../layers/storage/direct-read.ts';
import { type FakeS3, fakeS3, type S3Handler } from '../support/s3-endpoint.ts';

const servers: FakeS3[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function endpoint(handler: S3Handler): Promise<FakeS3> {
  const e = await fakeS3(handler);
  servers.push(e);
  return e;
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

  it('reads answers cut anywhere, chunked errors, Connection: close and dropped kept-alive sockets', async () => {
    // A raw server: each request is answered by `answer(n)`, written a few bytes at a time.
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 13) % 256));
    let conns = 0;
    const answers: ((n: number) => { bytes: Buffer; close?: boolean; whole?: boolean })[] = [
      () => ({
        bytes: Buffer.concat([
          Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nX-A: b\r\n\r\n`),
          body,
        ]),
      }),
      () => ({
        bytes: Buffer.from(
          'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n19\r\n<Error><Code>AccessDenied\r\n7\r\n</Code>\r\n0\r\n\r\n',
        ),
      }),
      () => ({
        bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc'),
        close: true,
      }),
      () => ({ bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi') }),
      () => ({ bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\ntoo long') }),
      () => ({
        bytes: Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`), big]),
        whole: true,
      }),
    ];
    const big = Buffer.alloc(900_000, 9);
    let next = 0;
    const server = net.createServer((sock) => {
      conns++;
      let pending = '';
      sock.on('data', async (d) => {
        pending += d.toString('latin1');
        while (pending.includes('\r\n\r\n')) {
          pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
          const a = answers[next++ % answers.length]!(next);
          // The last request: head and a large body in one write (read as one 256 KiB chunk).
          if (a.whole) {
            sock.write(a.bytes);
            continue;
          }
          for (let o = 0; o < a.bytes.length; o += 7) {
            sock.write(a.bytes.subarray(o, o + 7));
            if (o % 700 === 0) await new Promise((r) => setImmediate(r));
          }
          if (a.close) sock.end();
          // After the 4th answer the server drops the kept-alive connection while idle.
          if (next === 4) setTimeout(() => sock.destroy(), 20);
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const { spec } = await endpoint(() => {});
    const r = openDirectReader({
      ...spec,
      endpoint: `http://127.0.0.1:${port}`,
      maxAttempts: 1,
    } as ReaderSpec);
    try {
      expect((await r.read('a'))!.equals(body)).toBe(true);
      await expect(r.read('b')).rejects.toThrow(/AccessDenied \(HTTP 403\)/);
      expect((await r.read('c'))!.toString()).toBe('abc');
      expect((await r.read('d'))!.toString()).toBe('hi');
      await new Promise((res) => setTimeout(res, 100)); // the server drops the socket meanwhile
      await expect(r.read('e')).rejects.toThrow(/longer than its Content-Length 2/);
      // A new connection after the error answer, the close and the drop.
      expect((await r.read('f'))!.equals(big)).toBe(true);
      expect(conns).toBe(5);
    } finally {
      r.close();
      server.close();
    }
  });

  it.runIf(existsSync('/usr/bin/openssl'))(
    'reads a large object over TLS, checking the certificate',
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-direct-tls-'));
      try {
        const key = path.join(dir, 'key.pem');
        const cert = path.join(dir, 'cert.pem');
        await promisify(execFile)('openssl', [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          key,
          '-out',
          cert,
        ]);
        const big = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7 + (i >> 9)) % 256));
        const server = tls.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (sock) => {
          let pending = '';
          sock.on('data', (d) => {
            pending += d.toString('latin1');
            while (pending.includes('\r\n\r\n')) {
              pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
              sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`);
              sock.write(big);
            }
          });
          sock.on('error', () => {});
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const port = (server.address() as net.AddressInfo).port;
        const { spec } = await endpoint(() => {});
        const script = path.join(dir, 'read.ts');
        writeFileSync(
          script,
          `import { openDirectReader } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../layers/storage/direct-read.ts'))};
import { createHash } from 'node:crypto';
const r = openDirectReader(${JSON.stringify({ ...spec, endpoint: `https://127.0.0.1:${port}` })});
const out = [];
for (let i = 0; i < 3; i++) out.push(createHash('sha256').update((await r.read('big'))).digest('hex'));
r.close();
console.log(out.join(' '));`,
        );
        const run = (env: Record<string, string>) =>
          promisify(execFile)(process.execPath, [script], { env: { ...process.env, ...env } });
        try {
          const { stdout } = await run({ NODE_EXTRA_CA_CERTS: cert });
          const want = createHash('sha256').update(big).digest('hex');
          expect(stdout.trim()).toBe(`${want} ${want} ${want}`);
          // Without the CA the certificate is refused.
          await expect(run({ NODE_EXTRA_CA_CERTS: '' })).rejects.toThrow(/self-signed certificate/);
        } finally {
          server.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    30_000,
  );
});
