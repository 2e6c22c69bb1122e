// Signed S3 requests without the AWS SDK: the addressing of a spec's endpoint, a pool of
// kept-alive http1.ts connections, SigV4 (sigv4.ts), and the bounds s3.ts gives the SDK's
// requests — a connect timeout, a socket idle timeout (also while a body goes up), an overall
// deadline per attempt, retries with backoff of network errors, 5xx and 429. Used by s3-get.ts
// (whole-object GETs of short-lived processes) and s3-direct.ts (the Storage of every command
// when the credentials are in the environment). A timeout is a StorageError that says "timed out".
import { isIP } from 'node:net';
import type { ReaderSpec } from './direct-read.ts';
import { Http1Connection, type Http1Response, type Http1Target, TransientHttpError } from './http1.ts';
import { type Credentials, canonicalQuery, SigV4, s3UriPath } from './sigv4.ts';
import { checkKey, StorageError } from './types.ts';

export type S3Spec = Extract<ReaderSpec, { kind: 's3' }>;

/** The Host header and the connection target of the spec's endpoint (path or virtual-hosted style). */
export function s3Target(spec: S3Spec): { host: string; target: Http1Target } {
  const url = new URL(spec.endpoint);
  const host = spec.pathStyle ? url.host : `${spec.bucket}.${url.host}`;
  const tls = url.protocol === 'https:';
  return {
    host,
    target: {
      tls,
      hostname: url.hostname,
      port: Number(url.port) || (tls ? 443 : 80),
      // SNI only for a name (an IP address is not allowed there, RFC 6066).
      ...(isIP(url.hostname) ? {} : { servername: host.replace(/:\d+$/, '') }),
      connectTimeoutMs: spec.connectTimeoutMs,
      idleTimeoutMs: spec.idleTimeoutMs,
    },
  };
}

/** The encoded request path of an object under the spec's prefix, or of the bucket (null). */
export function s3Path(spec: S3Spec, key: string | null): string {
  if (key === null) return spec.pathStyle ? `/${s3UriPath(spec.bucket)}` : '/';
  const k = spec.prefix ? `${spec.prefix}/${checkKey(key)}` : checkKey(key);
  return s3UriPath(spec.pathStyle ? `/${spec.bucket}/${k}` : `/${k}`);
}

/** S3's error code of an answer (its XML body's <Code>), or 'error'. */
export function s3ErrorCode(res: Http1Response): string {
  return /<Code>([^<]*)<\/Code>/.exec(res.body.toString('utf8'))?.[1] ?? 'error';
}

/** An error answer as an Error: transient (worth retrying) for 5xx and 429. */
export function s3AnswerError(res: Http1Response): Error {
  const text = res.body.toString('utf8');
  const msg = `${s3ErrorCode(res)} (HTTP ${res.status}): ${/<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200)}`;
  return res.status >= 500 || res.status === 429 ? new TransientHttpError(msg) : new Error(msg);
}

/** A failed `op` on `key` as the StorageError every backend gives: what, where, and what to check. */
export function s3Failure(op: string, key: string, description: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const msg = (err as Error).message;
  return /timed out/.test(msg)
    ? new StorageError(
        'io',
        `${op} ${key} on ${description} timed out: ${msg}; check the endpoint answers (--endpoint, network, proxy) and raise --timeout only for a slow link`,
        { key, cause: err },
      )
    : new StorageError(
        'io',
        `${op} ${key} on ${description} failed: ${msg}; check the endpoint is reachable, the bucket exists and the credentials allow ${op}`,
        { key, cause: err },
      );
}

export interface S3Request {
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE';
  /** The object's key under the prefix; null for the bucket itself (listings). */
  key: string | null;
  query?: Record<string, string>;
  /** Signed and sent (lower-case names). */
  headers?: Record<string, string>;
  body?: Buffer;
  /** x-amz-content-sha256: the body's SHA-256 (hex), or UNSIGNED-PAYLOAD (the default). */
  payloadHash?: string;
  /** The buffer for a 2xx body of n bytes (default: a fresh one). */
  alloc?: (n: number) => Buffer;
}

/**
 * Signed requests over up to `maxSockets` kept-alive connections. `send` retries network
 * errors, 5xx and 429 and returns every other answer for the caller to read (404, 412, …).
 */
export class S3Requests {
  readonly spec: S3Spec;
  readonly host: string;
  private readonly target: Http1Target;
  private readonly signer: SigV4;
  private readonly maxSockets: number;
  private readonly idle: Http1Connection[] = [];
  private readonly waiting: ((c: Http1Connection) => void)[] = [];
  private readonly all = new Set<Http1Connection>();

  constructor(spec: S3Spec, maxSockets = 4) {
    this.spec = spec;
    ({ host: this.host, target: this.target } = s3Target(spec));
    this.signer = new SigV4(spec.credentials, spec.region);
    this.maxSockets = Math.max(1, maxSockets);
  }

  get tls(): boolean {
    return this.target.tls;
  }

  setCredentials(c: Credentials): void {
    this.signer.setCredentials(c);
  }

  /** `op` and `what` name the request in errors (e.g. 'PUT', the key). */
  async send(op: string, what: string, req: S3Request): Promise<Http1Response> {
    const path = s3Path(this.spec, req.key);
    const query = req.query ? canonicalQuery(req.query) : '';
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.once(req, path, query);
        if (res.status >= 500 || res.status === 429) throw s3AnswerError(res);
        return res;
      } catch (err) {
        if (!(err instanceof TransientHttpError) || attempt >= this.spec.maxAttempts)
          throw s3Failure(op, what, this.spec.description, err);
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  private async once(req: S3Request, path: string, query: string): Promise<Http1Response> {
    const conn = await this.acquire();
    const deadline = setTimeout(
      () =>
        conn.abort(
          new TransientHttpError(`no complete answer within ${this.spec.deadlineMs} ms (timed out)`),
        ),
      this.spec.deadlineMs,
    );
    try {
      const headers = this.signer.sign(
        req.method,
        this.host,
        path,
        req.headers ?? {},
        new Date(),
        req.payloadHash ?? 'UNSIGNED-PAYLOAD',
        query,
      );
      return await conn.request(
        req.method,
        query ? `${path}?${query}` : path,
        headers,
        req.body ?? null,
        req.alloc,
      );
    } finally {
      clearTimeout(deadline);
      this.release(conn);
    }
  }

  /** An idle connection, a new one while fewer than maxSockets exist, or the next one released. */
  private acquire(): Promise<Http1Connection> {
    const c = this.idle.pop();
    if (c) return Promise.resolve(c);
    if (this.all.size < this.maxSockets) {
      const fresh = new Http1Connection(this.target);
      this.all.add(fresh);
      return Promise.resolve(fresh);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(c: Http1Connection): void {
    const next = this.waiting.shift();
    if (next) next(c);
    else this.idle.push(c);
  }

  close(): void {
    for (const c of this.all) c.close();
    this.all.clear();
    this.idle.length = 0;
  }
}

const META_PREFIX = 'x-amz-meta-';

/** The user metadata of an answer (x-amz-meta-* headers, names without the prefix). */
export function s3Metadata(res: Http1Response): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of res.headers)
    if (name.startsWith(META_PREFIX)) metadata[name.slice(META_PREFIX.length)] = value;
  return metadata;
}

/** Metadata as request headers. */
export function s3MetadataHeaders(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) out[`${META_PREFIX}${k.toLowerCase()}`] = v;
  return out;
}
