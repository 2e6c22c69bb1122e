// Whole-object S3 GETs with the object's user metadata, without the AWS SDK: for short-lived
// processes that read a few objects and exit (walmgr restore-wal, one process per WAL segment,
// and its prefetcher). Loading the SDK and building its client was most of such a call's CPU
// (bench/README.md, walmgr, session 8); here a call costs s3-http.ts (http1.ts connections, our
// SigV4 signer, the bounds of s3.ts). The body is a fresh buffer the caller owns (GETs run in
// parallel). Also the addressing every S3 path shares (endpoint, region, path style,
// description) and `envCredentials`.
import type { ReaderSpec } from './direct-read.ts';
import { DirectS3Storage } from './s3-direct.ts';
import type { Credentials } from './sigv4.ts';
import type { ObjectInfo } from './types.ts';

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

/**
 * GETs objects over up to `maxSockets` kept-alive connections (s3-http.ts), each body a fresh
 * buffer the caller owns: the SDK-free storage's own `get` (s3-direct.ts), which loads no SDK
 * module for it.
 */
export function openS3Getter(spec: S3ReaderSpec, maxSockets = 4): ObjectGetter {
  const opts = {
    bucket: spec.bucket,
    prefix: spec.prefix,
    region: spec.region,
    endpoint: spec.endpoint,
    forcePathStyle: spec.pathStyle,
    connectTimeoutMs: spec.connectTimeoutMs,
    idleTimeoutMs: spec.idleTimeoutMs,
    requestDeadlineMs: spec.deadlineMs,
    maxAttempts: spec.maxAttempts,
  };
  return new DirectS3Storage(spec, opts, maxSockets);
}
