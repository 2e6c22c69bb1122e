// A local stand-in for an AWS service speaking the JSON protocol (ECS, Secrets Manager): POST / with
// `X-Amz-Target: <prefix>.<Operation>` and a JSON body, answered by the test's handler for that
// operation. Point an SDK client at it with `endpoint` (or AWS_ENDPOINT_URL_<SERVICE> in a child
// process). Every request is recorded; a handler throws AwsJsonError for a service error.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export class AwsJsonError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

export interface AwsJsonCall {
  operation: string;
  body: Record<string, unknown>;
}

export type AwsJsonHandlers = Record<string, (body: Record<string, unknown>) => unknown | Promise<unknown>>;

export interface AwsJsonServer {
  url: string;
  calls: AwsJsonCall[];
  close(): Promise<void>;
}

export async function startAwsJsonServer(handlers: AwsJsonHandlers): Promise<AwsJsonServer> {
  const calls: AwsJsonCall[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.slice(target.lastIndexOf('.') + 1);
      const text = Buffer.concat(chunks).toString('utf8');
      const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      calls.push({ operation, body });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(payload));
      };
      const h = handlers[operation];
      if (!h) return send(400, { __type: 'UnknownOperationException', message: `no ${operation} here` });
      try {
        send(200, (await h(body)) ?? {});
      } catch (err) {
        if (err instanceof AwsJsonError) send(err.status, { __type: err.type, message: err.message });
        else send(500, { __type: 'InternalFailure', message: (err as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Secrets Manager's GetSecretValue over a map of secret id → JSON value. */
export function secretsHandlers(secrets: Map<string, unknown>): AwsJsonHandlers {
  return {
    GetSecretValue: (body) => {
      const id = String(body.SecretId);
      if (!secrets.has(id)) throw new AwsJsonError('ResourceNotFoundException', `no secret ${id}`);
      return { ARN: id, Name: id, SecretString: JSON.stringify(secrets.get(id)), VersionId: 'v1' };
    },
  };
}

/** The RDS secret shape of a postgres:// URL. */
export function rdsSecret(url: string) {
  const u = new URL(url);
  return {
    engine: 'postgres',
    host: u.hostname,
    port: Number(u.port || 5432),
    dbname: decodeURIComponent(u.pathname.slice(1)),
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

/** The libpq location of a postgres:// URL without its password (as a node's stored location). */
export function passwordlessLocation(url: string): string {
  const s = rdsSecret(url);
  return `host=${s.host} port=${s.port} dbname=${s.dbname} user=${s.username} sslmode=disable`;
}
