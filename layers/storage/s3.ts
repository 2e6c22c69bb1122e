// S3 backend (AWS S3 or any S3-compatible endpoint). Imported lazily through openStorage() so
// that commands which never touch S3 do not pay for loading the AWS SDK.
// Every request is bounded: a connect timeout, a socket-idle timeout (also while a body is sent
// or received, so a stream or a multipart part that stalls fails too), a deadline for the
// response headers, and for whole-object calls an overall deadline; a dead endpoint turns into
// a StorageError that says it timed out, never a hang.
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ReaderSpec } from './direct-read.ts';
import { s3Description, s3Endpoint, s3ReaderSpec, s3Region } from './s3-get.ts';
import {
  checkKey,
  type DelimitedListing,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
  type Storage,
  StorageError,
} from './types.ts';

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading/trailing slash ('' for the bucket root). */
  prefix: string;
  region?: string;
  /** Custom endpoint (MinIO, LocalStack, emulators); defaults to AWS_ENDPOINT_URL(_S3) or AWS. */
  endpoint?: string;
  /** Path-style addressing; defaults to true when a custom endpoint is set. */
  forcePathStyle?: boolean;
  /** Send If-None-Match: * for ifAbsent puts (AWS S3 and MinIO honour it). Default true. */
  conditionalPut?: boolean;
  /** Overall deadline for one whole-object request, ms. Default 120 000. */
  requestDeadlineMs?: number;
  /** Socket idle timeout, ms: no byte sent or received for this long fails the request. Default 30 000. */
  idleTimeoutMs?: number;
  /** Connect timeout, ms. Default 5 000. */
  connectTimeoutMs?: number;
  /** SDK attempts per request (with backoff). Default 3. */
  maxAttempts?: number;
  /** Objects at least this big (or streams of unknown size) go multipart. Default 64 MiB. */
  multipartThreshold?: number;
  /**
   * Check the CRC32 of every downloaded body (the SDK's default). Off for callers that check a
   * stronger digest of what they read themselves (walmgr: SHA-256 of every object's content):
   * the SDK's check runs on the thread that parses HTTP, a sixth of a restore's main thread.
   */
  checkResponseChecksums?: boolean;
}

interface AwsError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function status(err: unknown): number | undefined {
  return (err as AwsError)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const e = err as AwsError;
  return status(err) === 404 || e?.name === 'NotFound' || e?.name === 'NoSuchKey';
}

/**
 * Reads a response body into one buffer of the announced length, copying each chunk once
 * (the SDK's transformToByteArray keeps every chunk and concatenates at the end).
 */
async function readBody(body: Readable, length: number | undefined): Promise<Buffer> {
  if (length === undefined) {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }
  const buf = Buffer.allocUnsafe(length);
  let off = 0;
  for await (const c of body) {
    const chunk = c as Buffer;
    if (off + chunk.length > length)
      throw new Error(`response body longer than its Content-Length ${length}`);
    chunk.copy(buf, off);
    off += chunk.length;
  }
  if (off !== length) throw new Error(`response body ended after ${off} of ${length} bytes`);
  return buf;
}

/**
 * The SDK's idle and header timeouts (TimeoutError) and our deadline (an AbortError whose cause
 * is AbortSignal.timeout's TimeoutError).
 */
function isTimeout(err: unknown): boolean {
  const e = err as Error & { code?: string };
  if (e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT') return true;
  return e?.name === 'AbortError' && (e.cause as Error | undefined)?.name === 'TimeoutError';
}

/**
 * The body of getStream(), whose errors (an idle timeout mid-body, a reset) arrive as the
 * StorageError of that GET instead of the SDK's bare error.
 */
function relayBody(src: Readable, fail: (err: unknown) => StorageError): Readable {
  async function* relay() {
    try {
      for await (const chunk of src) yield chunk as Buffer;
    } catch (err) {
      throw fail(err);
    }
  }
  return Readable.from(relay(), { objectMode: false });
}

const UNSIGNED_OK = new Set(['PutObjectCommand', 'UploadPartCommand']);

export class S3Storage implements Storage {
  readonly description: string;
  readonly atomicIfAbsent: boolean;
  private readonly client: S3Client;
  private readonly opts: S3StorageOptions;

  constructor(opts: S3StorageOptions) {
    this.opts = opts;
    const endpoint = s3Endpoint(opts);
    this.description = s3Description(opts);
    this.atomicIfAbsent = opts.conditionalPut !== false;
    this.client = new S3Client({
      region: s3Region(opts),
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: opts.forcePathStyle ?? Boolean(endpoint),
      maxAttempts: opts.maxAttempts ?? 3,
      ...(opts.checkResponseChecksums === false
        ? { responseChecksumValidation: 'WHEN_REQUIRED' as const }
        : {}),
      requestHandler: {
        connectionTimeout: opts.connectTimeoutMs ?? 5_000,
        // The idle timeout that fails the request (before the headers, mid-upload, mid-body):
        // @smithy/node-http-handler 4.x reads it from socketTimeout. Its requestTimeout is the
        // time to the response headers and only logs a warning unless throwOnRequestTimeout.
        socketTimeout: opts.idleTimeoutMs ?? 30_000,
        requestTimeout: opts.requestDeadlineMs ?? 120_000,
        throwOnRequestTimeout: true,
      },
    });
    this.unsignedPayloadOverTls(endpoint);
  }

  /**
   * Over TLS, uploads are signed with UNSIGNED-PAYLOAD instead of the body's SHA-256: the SDK
   * would otherwise hash every body on the main thread a second time (after our own content
   * hash). TLS protects the bytes in transit and the CRC32 checksum header the SDK still sends
   * is verified by S3 before it stores the object.
   */
  private unsignedPayloadOverTls(endpoint: string | undefined): void {
    if (endpoint && !endpoint.startsWith('https:')) return;
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const req = args.request as { headers?: Record<string, string> };
        if (req.headers && UNSIGNED_OK.has(context.commandName ?? ''))
          req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'skytoolsUnsignedPayloadOverTls' },
    );
  }

  private key(key: string): string {
    checkKey(key);
    return this.opts.prefix ? `${this.opts.prefix}/${key}` : key;
  }

  private deadline(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.opts.requestDeadlineMs ?? 120_000) };
  }

  private fail(op: string, key: string, err: unknown): StorageError {
    const e = err as AwsError & Error;
    const code = e?.name ?? 'error';
    const st = status(err);
    if (isTimeout(err))
      return new StorageError(
        'io',
        `${op} ${key} on ${this.description} timed out: ${e?.message ?? String(err)}${e?.cause instanceof Error ? ` (${e.cause.message})` : ''}; check the endpoint answers (--endpoint, network, proxy) and raise --timeout only for a slow link`,
        { key, cause: err },
      );
    return new StorageError(
      'io',
      `${op} ${key} on ${this.description} failed: ${code}${st ? ` (HTTP ${st})` : ''}: ${e?.message ?? String(err)}; check the endpoint is reachable, the bucket exists and the credentials allow ${op}`,
      { key, cause: err },
    );
  }

  async put(key: string, body: Buffer | Readable, opts: PutOptions = {}): Promise<PutResult> {
    const Key = this.key(key);
    const Metadata = opts.metadata ?? {};
    const threshold = this.opts.multipartThreshold ?? 64 * 1024 * 1024;
    const size = Buffer.isBuffer(body) ? body.length : opts.size;
    try {
      if (opts.ifAbsent && !this.atomicIfAbsent && (await this.head(key))) return 'exists';
      if (size !== undefined && size < threshold) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.opts.bucket,
            Key,
            Body: body,
            ContentLength: size,
            Metadata,
            ...(opts.ifAbsent && this.atomicIfAbsent ? { IfNoneMatch: '*' } : {}),
          }),
          this.deadline(),
        );
      } else {
        // Multipart cannot be made conditional everywhere; check first (not atomic). Each of its
        // requests (create, every part, complete, abort) is bounded by the client's timeouts.
        if (opts.ifAbsent && this.atomicIfAbsent && (await this.head(key))) return 'exists';
        const up = new Upload({
          client: this.client,
          params: { Bucket: this.opts.bucket, Key, Body: body, Metadata },
          // 8 MiB parts: above S3's 5 MiB minimum, small enough for emulators' body limits.
          partSize: 8 * 1024 * 1024,
          queueSize: 4,
          leavePartsOnError: false,
        });
        await up.done();
      }
      return 'created';
    } catch (err) {
      const st = status(err);
      if (opts.ifAbsent && (st === 412 || st === 409)) return 'exists';
      if (err instanceof StorageError) throw err;
      throw this.fail('PUT', key, err);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const r = await this.client.send(
        new HeadObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) }),
        this.deadline(),
      );
      return {
        key,
        size: r.ContentLength ?? 0,
        metadata: r.Metadata ?? {},
        ...(r.LastModified ? { lastModified: r.LastModified } : {}),
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail('HEAD', key, err);
    }
  }

  async get(key: string): Promise<{ body: Buffer; info: ObjectInfo } | null> {
    try {
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) }),
        this.deadline(),
      );
      const body = await readBody(r.Body as Readable, r.ContentLength);
      return {
        body,
        info: {
          key,
          size: body.length,
          metadata: r.Metadata ?? {},
          ...(r.LastModified ? { lastModified: r.LastModified } : {}),
        },
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail('GET', key, err);
    }
  }

  async getStream(key: string): Promise<{ body: Readable; info: ObjectInfo } | null> {
    try {
      // No overall deadline: the body may take long; the socket idle timeout bounds stalls, the
      // request timeout the wait for the headers.
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) }),
      );
      return {
        body: relayBody(r.Body as Readable, (err) => this.fail('GET', key, err)),
        info: {
          key,
          size: r.ContentLength ?? 0,
          metadata: r.Metadata ?? {},
          ...(r.LastModified ? { lastModified: r.LastModified } : {}),
        },
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail('GET', key, err);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return (await this.#listing(prefix, undefined)).objects;
  }

  listDelimited(prefix: string, delimiter: string): Promise<DelimitedListing> {
    return this.#listing(prefix, delimiter);
  }

  /** Every page of a listing under `prefix`, by key; with a delimiter, S3 rolls keys up into prefixes. */
  async #listing(prefix: string, delimiter: string | undefined): Promise<DelimitedListing> {
    const base = this.opts.prefix ? `${this.opts.prefix}/` : '';
    const objects: ObjectInfo[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.opts.bucket,
            Prefix: base + prefix,
            ...(delimiter ? { Delimiter: delimiter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
          this.deadline(),
        );
        for (const o of r.Contents ?? []) {
          if (!o.Key) continue;
          objects.push({
            key: o.Key.slice(base.length),
            size: o.Size ?? 0,
            metadata: {},
            ...(o.LastModified ? { lastModified: o.LastModified } : {}),
          });
        }
        for (const p of r.CommonPrefixes ?? []) if (p.Prefix) prefixes.push(p.Prefix.slice(base.length));
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      if (isNotFound(err) && (err as AwsError).name === 'NoSuchBucket') return { objects: [], prefixes: [] };
      throw this.fail('LIST', prefix, err);
    }
    const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    objects.sort((a, b) => byKey(a.key, b.key));
    return { objects, prefixes: [...new Set(prefixes)].sort(byKey) };
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) }),
        this.deadline(),
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.fail('DELETE', key, err);
    }
  }

  /**
   * For direct-read.ts: the endpoint and addressing the SDK would use, and the credentials its
   * provider chain resolves now (call again to refresh temporary ones).
   */
  async readerSpec(): Promise<ReaderSpec> {
    let c: Awaited<ReturnType<S3Client['config']['credentials']>>;
    let region: string;
    try {
      c = await this.client.config.credentials();
      region = await this.client.config.region();
    } catch (err) {
      throw new StorageError(
        'io',
        `reading from ${this.description} needs credentials and a region: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return s3ReaderSpec(
      this.opts,
      {
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
      },
      region,
    );
  }

  close(): void {
    this.client.destroy();
  }
}
