// A local HTTP endpoint that plays S3 for the SDK-free readers' tests (restore's workers,
// restore_command's GET): the test's handler answers each request (n counts them), and the
// reader spec points at it with path-style addressing, short timeouts and three attempts.
import http from 'node:http';
import type net from 'node:net';
import type { S3ReaderSpec } from '../../layers/storage/s3-get.ts';

export type S3Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

export interface FakeS3 {
  spec: S3ReaderSpec;
  /** Connections the endpoint has accepted so far. */
  sockets: () => number;
  close: () => Promise<void>;
}

export async function fakeS3(
  handler: S3Handler,
  credentials: S3ReaderSpec['credentials'] = { accessKeyId: 'k', secretAccessKey: 's' },
): Promise<FakeS3> {
  let n = 0;
  let sockets = 0;
  const server = http.createServer((req, res) => handler(req, res, ++n));
  server.on('connection', () => sockets++);
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
      credentials,
      connectTimeoutMs: 2000,
      idleTimeoutMs: 300,
      deadlineMs: 5000,
      maxAttempts: 3,
    },
    sockets: () => sockets,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
