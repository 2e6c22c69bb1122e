// The S3 Storage without the AWS SDK, for static credentials in the environment (what the SDK's
// provider chain takes first; Lambda gives its role's keys that way): PUT of buffers, GET, HEAD,
// listings and DELETE as signed requests of s3-http.ts. Why: loading the SDK and building its
// client was ~0.15 s of CPU at every command's start, and its per-request middleware and garbage
// were the larger part of a small backup's and an archive_command's own work (bench/README.md,
// walmgr, session 16). What this does not do itself — streamed bodies, multipart uploads of big
// objects, getStream — goes to the SDK backend (s3.ts), loaded on first use with the same settings.
// Semantics as s3.ts: conditional PUT by If-None-Match (412/409 → 'exists'), or HEAD first when
// the endpoint ignores it; each upload carries its CRC32 (x-amz-checksum-crc32, which S3 checks
// before it stores the object), signed with UNSIGNED-PAYLOAD over TLS and with the body's
// SHA-256 over plain HTTP, as the SDK client there does.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { ReaderSpec } from './direct-read.ts';
import type { S3Storage, S3StorageOptions } from './s3.ts';
import {
  type S3Request,
  S3Requests,
  type S3Spec,
  s3AnswerError,
  s3ErrorCode,
  s3Failure,
  s3Metadata,
  s3MetadataHeaders,
} from './s3-http.ts';
import type { DelimitedListing, ObjectInfo, PutOptions, PutResult, Storage } from './types.ts';

/** The XML text of an element's content, entities decoded. */
function xmlText(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e]!;
  });
}

/** The first <tag>…</tag> of `xml`, decoded; undefined when absent. */
function xmlField(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return m ? xmlText(m[1]!) : undefined;
}

/** One page of a ListObjectsV2 answer. */
export function parseListPage(xml: string): {
  objects: { key: string; size: number; lastModified?: Date }[];
  prefixes: string[];
  next?: string;
} {
  const objects: { key: string; size: number; lastModified?: Date }[] = [];
  for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const key = xmlField(m[1]!, 'Key');
    if (key === undefined) continue;
    const lm = xmlField(m[1]!, 'LastModified');
    objects.push({
      key,
      size: Number(xmlField(m[1]!, 'Size') ?? 0),
      ...(lm ? { lastModified: new Date(lm) } : {}),
    });
  }
  const prefixes: string[] = [];
  for (const m of xml.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g)) {
    const p = xmlField(m[1]!, 'Prefix');
    if (p !== undefined) prefixes.push(p);
  }
  const truncated = xmlField(xml, 'IsTruncated') === 'true';
  const next = truncated ? xmlField(xml, 'NextContinuationToken') : undefined;
  if (truncated && !next) throw new Error('a truncated listing without NextContinuationToken');
  return { objects, prefixes, ...(next ? { next } : {}) };
}

export class DirectS3Storage implements Storage {
  readonly description: string;
  readonly atomicIfAbsent: boolean;
  private readonly requests: S3Requests;
  private readonly spec: S3Spec;
  private readonly opts: S3StorageOptions;
  private sdkBackend: Promise<S3Storage> | null = null;

  constructor(spec: S3Spec, opts: S3StorageOptions, maxSockets = 16) {
    this.spec = spec;
    this.opts = opts;
    this.description = spec.description;
    this.atomicIfAbsent = opts.conditionalPut !== false;
    this.requests = new S3Requests(spec, maxSockets);
  }

  /** The SDK backend, for what this one leaves to it (streams, multipart, getStream). */
  private sdk(): Promise<S3Storage> {
    this.sdkBackend ??= import('./s3.ts').then(({ S3Storage }) => new S3Storage(this.opts));
    return this.sdkBackend;
  }

  private send(op: string, what: string, req: S3Request) {
    return this.requests.send(op, what, req);
  }

  async put(key: string, body: Buffer | Readable, opts: PutOptions = {}): Promise<PutResult> {
    const threshold = this.opts.multipartThreshold ?? 64 * 1024 * 1024;
    if (!Buffer.isBuffer(body) || body.length >= threshold) return (await this.sdk()).put(key, body, opts);
    if (opts.ifAbsent && !this.atomicIfAbsent && (await this.head(key))) return 'exists';
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    const res = await this.send('PUT', key, {
      method: 'PUT',
      key,
      body,
      headers: {
        'content-length': String(body.length),
        'x-amz-checksum-crc32': crc.toString('base64'),
        ...s3MetadataHeaders(opts.metadata ?? {}),
        ...(opts.ifAbsent && this.atomicIfAbsent ? { 'if-none-match': '*' } : {}),
      },
      // Over TLS the bytes are protected in transit and S3 checks the CRC32; a second hash of
      // every body on this thread buys nothing there (s3.ts does the same with the SDK).
      ...(this.requests.tls ? {} : { payloadHash: createHash('sha256').update(body).digest('hex') }),
    });
    if (res.status >= 200 && res.status < 300) return 'created';
    if (opts.ifAbsent && (res.status === 412 || res.status === 409)) return 'exists';
    throw s3Failure('PUT', key, this.description, s3AnswerError(res));
  }

  async get(key: string): Promise<{ body: Buffer; info: ObjectInfo } | null> {
    const res = await this.send('GET', key, { method: 'GET', key });
    if (res.status === 404) return null;
    if (res.status !== 200) throw s3Failure('GET', key, this.description, s3AnswerError(res));
    const body = res.body as Buffer;
    return { body, info: this.info(key, body.length, res) };
  }

  async getStream(key: string): Promise<{ body: Readable; info: ObjectInfo } | null> {
    return (await this.sdk()).getStream(key);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const res = await this.send('HEAD', key, { method: 'HEAD', key });
    if (res.status === 404) return null;
    if (res.status !== 200) throw s3Failure('HEAD', key, this.description, s3AnswerError(res));
    return this.info(key, Number(res.headers.get('content-length') ?? 0), res);
  }

  private info(key: string, size: number, res: Awaited<ReturnType<S3Requests['send']>>): ObjectInfo {
    const lm = res.headers.get('last-modified');
    return { key, size, metadata: s3Metadata(res), ...(lm ? { lastModified: new Date(lm) } : {}) };
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return (await this.listing(prefix, undefined)).objects;
  }

  listDelimited(prefix: string, delimiter: string): Promise<DelimitedListing> {
    return this.listing(prefix, delimiter);
  }

  /** Every page of a listing under `prefix`, by key; with a delimiter, S3 rolls keys up into prefixes. */
  private async listing(prefix: string, delimiter: string | undefined): Promise<DelimitedListing> {
    const base = this.spec.prefix ? `${this.spec.prefix}/` : '';
    const objects: ObjectInfo[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.send('LIST', prefix, {
        method: 'GET',
        key: null,
        query: {
          'list-type': '2',
          prefix: base + prefix,
          ...(delimiter ? { delimiter } : {}),
          ...(token ? { 'continuation-token': token } : {}),
        },
      });
      if (res.status === 404 && s3ErrorCode(res) === 'NoSuchBucket') return { objects: [], prefixes: [] };
      if (res.status !== 200) throw s3Failure('LIST', prefix, this.description, s3AnswerError(res));
      let page: ReturnType<typeof parseListPage>;
      try {
        page = parseListPage(res.body.toString('utf8'));
      } catch (err) {
        throw s3Failure('LIST', prefix, this.description, err);
      }
      for (const o of page.objects)
        objects.push({
          key: o.key.slice(base.length),
          size: o.size,
          metadata: {},
          ...(o.lastModified ? { lastModified: o.lastModified } : {}),
        });
      for (const p of page.prefixes) prefixes.push(p.slice(base.length));
      token = page.next;
    } while (token);
    const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    objects.sort((a, b) => byKey(a.key, b.key));
    return { objects, prefixes: [...new Set(prefixes)].sort(byKey) };
  }

  async delete(key: string): Promise<void> {
    const res = await this.send('DELETE', key, { method: 'DELETE', key });
    if ((res.status >= 200 && res.status < 300) || res.status === 404) return;
    throw s3Failure('DELETE', key, this.description, s3AnswerError(res));
  }

  async readerSpec(): Promise<ReaderSpec> {
    return this.spec;
  }

  close(): void {
    this.requests.close();
    void this.sdkBackend?.then((s) => s.close()).catch(() => {});
  }
}
