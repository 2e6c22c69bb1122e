// Every S3 storage call, through the SDK (s3.ts) and without it (s3-direct.ts), is bounded by the
// idle timeout, not only by the overall deadline: against
// an endpoint that accepts TCP and never answers, and one that sends the headers and then stalls
// the body, and a multipart upload whose part is never answered, each method fails with a
// StorageError that says it timed out, well before the deadline.
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Storage, type S3StorageOptions } from '../../layers/storage/s3.ts';
import { DirectS3Storage } from '../../layers/storage/s3-direct.ts';
import { envCredentials, s3ReaderSpec } from '../../layers/storage/s3-get.ts';
import { type Storage, StorageError } from '../../layers/storage/types.ts';

const IDLE_MS = 400;
/** Far above what the test allows: a call that only stops at the deadline fails the test. */
const DEADLINE_MS = 60_000;
/** What a bounded call may take: connect + idle timeout, with room for a loaded machine. */
const BOUND_MS = 5_000;

interface Stall {
  endpoint: string;
  stop(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that accepts and then does what `onConnect` says with the socket. */
async function stallServer(onConnect: (s: net.Socket) => void): Promise<Stall> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConnect(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

type Backend = 'the AWS SDK' | 'no SDK';

/** The S3 storage of either backend (s3.ts or s3-direct.ts), with the same bounds. */
function storageAt(
  endpoint: string,
  backend: Backend = 'the AWS SDK',
  extra: Partial<S3StorageOptions> = {},
): Storage {
  const opts: S3StorageOptions = {
    bucket: 'stalled',
    prefix: 'p',
    endpoint,
    requestDeadlineMs: DEADLINE_MS,
    idleTimeoutMs: IDLE_MS,
    connectTimeoutMs: 1_000,
    maxAttempts: 1,
    ...extra,
  };
  if (backend === 'the AWS SDK') return new S3Storage(opts);
  return new DirectS3Storage(s3ReaderSpec(opts, envCredentials()!), opts);
}

const BACKENDS: Backend[] = ['the AWS SDK', 'no SDK'];

/** Runs a call that must fail with a timeout StorageError within BOUND_MS. */
async function expectTimedOut(what: string, call: () => Promise<unknown>): Promise<StorageError> {
  const t0 = Date.now();
  let err: unknown;
  const limit = new Promise<'hung'>((r) => setTimeout(() => r('hung'), BOUND_MS + 2_000).unref());
  const outcome = await Promise.race([
    call().then(
      () => 'resolved' as const,
      (e) => {
        err = e;
        return 'rejected' as const;
      },
    ),
    limit,
  ]);
  expect(outcome, `${what} must fail, not ${outcome}`).toBe('rejected');
  expect(err, `${what}: ${String(err)}`).toBeInstanceOf(StorageError);
  expect((err as Error).message).toMatch(/timed out/);
  expect(Date.now() - t0, `${what} took too long`).toBeLessThan(BOUND_MS);
  return err as StorageError;
}

/** A stream body that is never finished by the client side in time: 10 MiB in 64 KiB chunks. */
function bigStream(): Readable {
  let left = 160;
  return new Readable({
    read() {
      this.push(left-- > 0 ? Buffer.alloc(65536, 7) : null);
    },
  });
}

beforeAll(() => {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
});

describe.each(BACKENDS)('S3 storage (%s) against an endpoint that accepts and never answers', (backend) => {
  let server: Stall;
  let storage: Storage;
  beforeAll(async () => {
    // Reads whatever the client sends (so uploads are not held up by TCP flow control) and
    // never writes a byte back.
    server = await stallServer((s) => s.resume());
    storage = storageAt(server.endpoint, backend);
  });
  afterAll(async () => {
    storage.close();
    await server.stop();
  });

  it.each([
    ['head', () => storage.head('k')],
    ['get', () => storage.get('k')],
    ['getStream', () => storage.getStream('k')],
    ['list', () => storage.list('')],
    ['delete', () => storage.delete('k')],
    ['put of a buffer', () => storage.put('k', Buffer.from('small'))],
    ['put ifAbsent', () => storage.put('k', Buffer.from('small'), { ifAbsent: true })],
    ['multipart put of a stream', () => storage.put('k', bigStream())],
  ])('%s fails with a timeout', async (what, call) => {
    const err = await expectTimedOut(what, call);
    expect(err.message).toContain('s3://stalled/p');
  });
});

describe.each(BACKENDS)(
  'S3 storage (%s) against an endpoint that sends headers and stalls the body',
  (backend) => {
    let server: Stall;
    let storage: Storage;
    beforeAll(async () => {
      server = await stallServer((s) => {
        let seen = '';
        const onData = (d: Buffer) => {
          seen += d.toString('latin1');
          if (!seen.includes('\r\n\r\n')) return;
          s.off('data', onData);
          s.resume();
          // 1 MiB announced, 16 bytes sent, then nothing.
          s.write(
            'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\nx-amz-meta-k: v\r\n\r\n',
          );
          s.write(Buffer.alloc(16, 1));
        };
        s.on('data', onData);
      });
      storage = storageAt(server.endpoint, backend);
    });
    afterAll(async () => {
      storage.close();
      await server.stop();
    });

    it('get fails with a timeout mid-body', async () => {
      await expectTimedOut('get', () => storage.get('k'));
    });

    it('list fails with a timeout mid-body', async () => {
      await expectTimedOut('list', () => storage.list(''));
    });

    it('a getStream body fails with a timeout StorageError mid-body, instead of hanging', async () => {
      const res = await storage.getStream('k');
      expect(res?.info.size).toBe(1048576);
      const err = await expectTimedOut('reading the getStream body', async () => {
        for await (const _ of res!.body) {
          // drain until the stall
        }
      });
      expect(err.key).toBe('k');
    });
  },
);

describe('S3 storage: a multipart upload whose part never gets an answer', () => {
  let server: http.Server;
  let endpoint: string;
  const seen: string[] = [];
  beforeAll(async () => {
    // Starts multipart uploads and aborts them like S3; every part upload is read and never answered.
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      const url = new URL(req.url!, 'http://x');
      if (req.method === 'POST' && url.searchParams.has('uploads')) {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>stalled</Bucket><Key>p/k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>',
        );
      } else if (req.method === 'DELETE') {
        res.writeHead(204).end();
      }
      // PUT ?partNumber=…: never answered.
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('fails with a timeout instead of waiting for the part forever', async () => {
    const storage = storageAt(endpoint, 'no SDK');
    try {
      // Without the SDK too: the multipart upload is the SDK backend's, with the same bounds.
      await expectTimedOut('multipart put', () => storage.put('k', bigStream()));
    } finally {
      storage.close();
    }
    expect(seen.some((r) => r.startsWith('PUT') && r.includes('partNumber='))).toBe(true);
  });
});
