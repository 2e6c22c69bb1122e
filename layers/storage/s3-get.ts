// Whole-object S3 GETs with the object's user metadata, without the AWS SDK: for short-lived
// processes that read a few objects and exit (walmgr restore-wal, one process per WAL segment,
// and its prefetcher). Loading the SDK and building its client was most of such a call's CPU
// (bench/README.md, walmgr, session 8); here a call costs node:https, our SigV4 signer and one
// keep-alive connection per GET in flight.
// Bounds as s3.ts and direct-read.ts: connect timeout, socket idle timeout, an overall deadline
// per GET, retries with backoff of network errors, 5xx and 429; a timeout is a StorageError that
// says "timed out". The body is a fresh buffer the caller owns (GETs run in parallel).
import type http from 'node:http';
import type https from 'node:https';
import { isIP } from 'node:net';
import type { ReaderSpec } from './direct-read.ts';
import { type Credentials, SigV4, s3UriPath } from './sigv4.ts';
import { checkKey, type ObjectInfo, StorageError } from './types.ts';

export type S3ReaderSpec = Extract<ReaderSpec, { kind: 's3' }>;

/** The read half of `Storage` that restore-wal needs: `get` with the same not-found semantics. */
export interface ObjectGetter {
  readonly description: string;
  /** The whole object and its metadata, or null when no object exists under the key. */
  get(key: string): Promise<{ body: Buffer; info: ObjectInfo } | null>;
  close(): void;
}

/** What the AWS SDK's S3 client would use, from settings and the environment (s3.ts uses it too). */
export interface S3Addressing {
  bucket: string;
  prefix: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
}

export function s3Endpoint(o: S3Addressing): string | undefined {
  return o.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
}

export function s3Description(o: S3Addressing): string {
  const endpoint = s3Endpoint(o);
  return `s3://${o.bucket}/${o.prefix}${endpoint ? ` at ${endpoint}` : ''}`;
}

export function s3Region(o: S3Addressing): string {
  return o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
}

/** As the SDK: path-style with a custom endpoint, else virtual-hosted unless the bucket cannot be a host name. */
export function s3PathStyle(o: S3Addressing): boolean {
  return (o.forcePathStyle ?? Boolean(s3Endpoint(o))) || !/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(o.bucket);
}

export interface S3Bounds {
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  requestDeadlineMs?: number;
  maxAttempts?: number;
}

/** The spec of a reader with the given credentials (s3.ts passes those its provider chain resolved). */
export function s3ReaderSpec(o: S3Addressing & S3Bounds, credentials: Credentials, region = s3Region(o)) {
  const endpoint = s3Endpoint(o);
  return {
    kind: 's3',
    description: s3Description(o),
    endpoint: new URL(endpoint ?? `https://s3.${region}.amazonaws.com`).origin,
    bucket: o.bucket,
    prefix: o.prefix,
    region,
    pathStyle: s3PathStyle(o),
    credentials,
    connectTimeoutMs: o.connectTimeoutMs ?? 5_000,
    idleTimeoutMs: o.idleTimeoutMs ?? 30_000,
    deadlineMs: o.requestDeadlineMs ?? 120_000,
    maxAttempts: o.maxAttempts ?? 3,
  } satisfies S3ReaderSpec;
}

/**
 * Static credentials from the environment, as the SDK's provider chain takes them first
 * (AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN]); null when they are not
 * there (profiles, SSO, instance or container roles: the caller uses the SDK then).
 */
export function envCredentials(env: NodeJS.ProcessEnv = process.env): Credentials | null {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return null;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

class Retryable extends Error {}

const META_PREFIX = 'x-amz-meta-';

/** GETs objects over up to `maxSockets` kept-alive connections. */
export function openS3Getter(spec: S3ReaderSpec, maxSockets = 4): ObjectGetter {
  const url = new URL(spec.endpoint);
  // getBuiltinModule, not an import: importing node:http builds its ESM facade, which reads
  // every export, and so loads undici (fetch, WebSocket) for ~30 ms of CPU per process.
  const mod: typeof http | typeof https =
    url.protocol === 'http:' ? process.getBuiltinModule('node:http') : process.getBuiltinModule('node:https');
  const agent = new mod.Agent({ keepAlive: true, maxSockets });
  const host = spec.pathStyle ? url.host : `${spec.bucket}.${url.host}`;
  const signer = new SigV4(spec.credentials, spec.region);

  const uriPath = (key: string) => {
    const k = spec.prefix ? `${spec.prefix}/${checkKey(key)}` : checkKey(key);
    return s3UriPath(spec.pathStyle ? `/${spec.bucket}/${k}` : `/${k}`);
  };

  const fail = (key: string, err: unknown): StorageError => {
    if (err instanceof StorageError) return err;
    const msg = (err as Error).message;
    return /timed out/.test(msg)
      ? new StorageError(
          'io',
          `GET ${key} on ${spec.description} timed out: ${msg}; check the endpoint answers (--endpoint, network, proxy) and raise --timeout only for a slow link`,
          { key, cause: err },
        )
      : new StorageError(
          'io',
          `GET ${key} on ${spec.description} failed: ${msg}; check the endpoint is reachable, the bucket exists and the credentials allow GET`,
          { key, cause: err },
        );
  };

  const once = (key: string, p: string) =>
    new Promise<{ body: Buffer; info: ObjectInfo } | null>((resolve, reject) => {
      let settled = false;
      const done = (err: Error | null, v: { body: Buffer; info: ObjectInfo } | null = null) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        clearTimeout(connect);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(v);
      };
      const req = mod.request({
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port || undefined,
        // SNI only for a name (an IP address is not allowed there, RFC 6066).
        ...(isIP(url.hostname) ? {} : { servername: host.replace(/:\d+$/, '') }),
        method: 'GET',
        path: p,
        headers: signer.sign('GET', host, p),
        agent,
      });
      const deadline = setTimeout(
        () => done(new Retryable(`no complete answer within ${spec.deadlineMs} ms (timed out)`)),
        spec.deadlineMs,
      );
      let connect: NodeJS.Timeout | undefined;
      req.on('socket', (s) => {
        if (!s.connecting) return; // kept alive: connected already
        connect = setTimeout(
          () => done(new Retryable(`connect timed out after ${spec.connectTimeoutMs} ms`)),
          spec.connectTimeoutMs,
        );
        s.once('connect', () => clearTimeout(connect));
      });
      req.setTimeout(spec.idleTimeoutMs, () =>
        done(new Retryable(`no byte for ${spec.idleTimeoutMs} ms (socket idle, timed out)`)),
      );
      req.on('error', (err) => done(new Retryable(err.message)));
      req.on('response', (res) => {
        const st = res.statusCode ?? 0;
        if (st === 404) {
          res.resume();
          res.on('end', () => done(null, null));
          return;
        }
        if (st !== 200) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            if (text.length < 2000) text += c;
          });
          res.on('end', () => {
            const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? 'error';
            const msg = `${code} (HTTP ${st}): ${/<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200)}`;
            done(st >= 500 || st === 429 ? new Retryable(msg) : new Error(msg));
          });
          return;
        }
        const len = Number(res.headers['content-length']);
        if (!Number.isFinite(len)) return done(new Error('response without Content-Length'));
        const metadata: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers))
          if (name.startsWith(META_PREFIX) && typeof value === 'string')
            metadata[name.slice(META_PREFIX.length)] = value;
        const lm = res.headers['last-modified'];
        const body = Buffer.allocUnsafe(len);
        let off = 0;
        res.on('data', (c: Buffer) => {
          if (off + c.length > len)
            return done(new Error(`response body longer than its Content-Length ${len}`));
          c.copy(body, off);
          off += c.length;
        });
        res.on('end', () =>
          off === len
            ? done(null, {
                body,
                info: { key, size: len, metadata, ...(lm ? { lastModified: new Date(lm) } : {}) },
              })
            : done(new Retryable(`response body ended after ${off} of ${len} bytes`)),
        );
        res.on('error', (err) => done(new Retryable(err.message)));
        res.on('aborted', () => done(new Retryable('response aborted')));
      });
      req.end();
    });

  return {
    description: spec.description,
    async get(key) {
      const p = uriPath(key);
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(key, p);
        } catch (err) {
          if (!(err instanceof Retryable) || attempt >= spec.maxAttempts) throw fail(key, err);
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        }
      }
    },
    close: () => agent.destroy(),
  };
}
