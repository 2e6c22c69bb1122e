// Whole-object S3 GETs with the object's user metadata, without the AWS SDK: for short-lived
// processes that read a few objects and exit (walmgr restore-wal, one process per WAL segment,
// and its prefetcher). Loading the SDK and building its client was most of such a call's CPU
// (bench/README.md, walmgr, session 8); here a call costs http1.ts (the HTTP/1.1 client of
// direct-read.ts: plain or TLS, one kept-alive connection per GET in flight), our SigV4 signer.
// Bounds as s3.ts and direct-read.ts: connect timeout, socket idle timeout, an overall deadline
// per GET, retries with backoff of network errors, 5xx and 429; a timeout is a StorageError that
// says "timed out". The body is a fresh buffer the caller owns (GETs run in parallel).
import { isIP } from 'node:net';
import type { ReaderSpec } from './direct-read.ts';
import { Http1Connection, type Http1Response, TransientHttpError } from './http1.ts';
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

const META_PREFIX = 'x-amz-meta-';

/**
 * GETs objects over up to `maxSockets` kept-alive connections of http1.ts (the client of
 * direct-read.ts too: one HTTP client, plain or TLS, reading into a static buffer), each body
 * copied once into a fresh buffer the caller owns.
 */
export function openS3Getter(spec: S3ReaderSpec, maxSockets = 4): ObjectGetter {
  const url = new URL(spec.endpoint);
  const host = spec.pathStyle ? url.host : `${spec.bucket}.${url.host}`;
  const signer = new SigV4(spec.credentials, spec.region);
  const tls = url.protocol === 'https:';
  const target = {
    tls,
    hostname: url.hostname,
    port: Number(url.port) || (tls ? 443 : 80),
    // SNI only for a name (an IP address is not allowed there, RFC 6066).
    ...(isIP(url.hostname) ? {} : { servername: host.replace(/:\d+$/, '') }),
    connectTimeoutMs: spec.connectTimeoutMs,
    idleTimeoutMs: spec.idleTimeoutMs,
  };
  // Connections not in use; a GET takes one, or opens one while fewer than maxSockets exist.
  const idle: Http1Connection[] = [];
  const waiting: ((c: Http1Connection) => void)[] = [];
  const all = new Set<Http1Connection>();
  const acquire = (): Promise<Http1Connection> => {
    const c = idle.pop();
    if (c) return Promise.resolve(c);
    if (all.size < Math.max(1, maxSockets)) {
      const fresh = new Http1Connection(target);
      all.add(fresh);
      return Promise.resolve(fresh);
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (c: Http1Connection) => {
    const next = waiting.shift();
    if (next) next(c);
    else idle.push(c);
  };

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

  const once = async (key: string, p: string): Promise<{ body: Buffer; info: ObjectInfo } | null> => {
    const conn = await acquire();
    const deadline = setTimeout(
      () => conn.abort(new TransientHttpError(`no complete answer within ${spec.deadlineMs} ms (timed out)`)),
      spec.deadlineMs,
    );
    let res: Http1Response;
    try {
      res = await conn.get(p, signer.sign('GET', host, p), (n) => Buffer.allocUnsafe(n));
    } finally {
      clearTimeout(deadline);
      release(conn);
    }
    const st = res.status;
    if (st === 404) return null;
    if (st !== 200) {
      const text = res.body.toString('utf8');
      const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? 'error';
      const msg = `${code} (HTTP ${st}): ${/<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200)}`;
      throw st >= 500 || st === 429 ? new TransientHttpError(msg) : new Error(msg);
    }
    const metadata: Record<string, string> = {};
    for (const [name, value] of res.headers)
      if (name.startsWith(META_PREFIX)) metadata[name.slice(META_PREFIX.length)] = value;
    const lm = res.headers.get('last-modified');
    const body = res.body as Buffer;
    return {
      body,
      info: { key, size: body.length, metadata, ...(lm ? { lastModified: new Date(lm) } : {}) },
    };
  };

  return {
    description: spec.description,
    async get(key) {
      const p = uriPath(key);
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(key, p);
        } catch (err) {
          if (!(err instanceof TransientHttpError) || attempt >= spec.maxAttempts) throw fail(key, err);
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        }
      }
    },
    close: () => {
      for (const c of all) c.close();
      all.clear();
      idle.length = 0;
    },
  };
}
