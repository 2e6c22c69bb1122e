// Reads objects without the AWS SDK, for threads that read many objects back to back
// (walmgr restore's workers). A `ReaderSpec` (plain data: it crosses to a worker thread) comes
// from `Storage.readerSpec()`; `openDirectReader` turns it into one keep-alive connection that
// GETs (S3: http1.ts, reading into a static buffer, + our SigV4 signer) or reads (local
// directory) into one buffer reused
// from object to object. Measured in a restore: the SDK's per-object middleware, its HTTP
// handler and the garbage they make were a third of the CPU, all on the main thread.
// Same bounds as s3.ts: connect timeout, socket idle timeout, overall deadline per GET, retries
// with backoff for network errors and 5xx; a timeout is a StorageError that says "timed out".
import fs from 'node:fs';
import { Http1Connection, TransientHttpError } from './http1.ts';
import { s3AnswerError, s3Failure, s3Path, s3Target } from './s3-http.ts';
import { type Credentials, SigV4 } from './sigv4.ts';
import { checkKey, StorageError } from './types.ts';

export type ReaderSpec =
  | {
      kind: 's3';
      description: string;
      /** Origin of the endpoint, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000. */
      endpoint: string;
      bucket: string;
      prefix: string;
      region: string;
      pathStyle: boolean;
      credentials: Credentials;
      connectTimeoutMs: number;
      idleTimeoutMs: number;
      deadlineMs: number;
      maxAttempts: number;
    }
  | { kind: 'local'; description: string; root: string; magic: string };

/** Part of an object: bytes [start, end). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface DirectReader {
  /**
   * The object (or `range` of it), or null when no object exists under the key. The result is
   * a view of a buffer this reader reuses: valid until the next read.
   */
  read(key: string, range?: ByteRange): Promise<Buffer | null>;
  /** New credentials (temporary ones are refreshed by the thread that made the spec). */
  setCredentials(c: Credentials): void;
  close(): void;
}

export function openDirectReader(spec: ReaderSpec): DirectReader {
  return spec.kind === 's3' ? new S3Reader(spec) : new LocalReader(spec);
}

/** One growing buffer: the largest object read so far, never a fresh one per object. */
class Scratch {
  private buf = Buffer.alloc(0);
  get(n: number): Buffer {
    if (this.buf.length < n) this.buf = Buffer.allocUnsafe(Math.max(n, Math.ceil(this.buf.length * 1.25)));
    return this.buf.subarray(0, n);
  }
}

class LocalReader implements DirectReader {
  private readonly spec: Extract<ReaderSpec, { kind: 'local' }>;
  private readonly scratch = new Scratch();
  private readonly head = Buffer.allocUnsafe(65536);

  constructor(spec: Extract<ReaderSpec, { kind: 'local' }>) {
    this.spec = spec;
  }

  async read(key: string, range?: ByteRange): Promise<Buffer | null> {
    const file = `${this.spec.root}/${checkKey(key)}`;
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw new StorageError(
        'io',
        `reading ${key} from ${this.spec.description} failed: ${(err as Error).message}`,
        {
          key,
          cause: err,
        },
      );
    }
    try {
      // The one-line metadata header of local.ts, then the body.
      const got = fs.readSync(fd, this.head, 0, this.head.length, 0);
      const nl = this.head.subarray(0, got).indexOf(10);
      if (nl < 0 || this.head.toString('latin1', 0, this.spec.magic.length) !== this.spec.magic)
        throw new StorageError(
          'io',
          `${file} is not an object written by skytools storage (bad header); remove it or point the repository elsewhere`,
          { key },
        );
      const size = fs.fstatSync(fd).size - (nl + 1);
      const start = range?.start ?? 0;
      const end = Math.min(range?.end ?? size, size);
      const out = this.scratch.get(Math.max(0, end - start));
      let off = 0;
      while (off < out.length) {
        const n = fs.readSync(fd, out, off, out.length - off, nl + 1 + start + off);
        if (n === 0) break;
        off += n;
      }
      return out.subarray(0, off);
    } finally {
      fs.closeSync(fd);
    }
  }

  setCredentials(): void {}
  close(): void {}
}

class S3Reader implements DirectReader {
  private readonly spec: Extract<ReaderSpec, { kind: 's3' }>;
  private readonly signer: SigV4;
  private readonly conn: Http1Connection;
  private readonly host: string;
  private readonly scratch = new Scratch();

  constructor(spec: Extract<ReaderSpec, { kind: 's3' }>) {
    this.spec = spec;
    this.signer = new SigV4(spec.credentials, spec.region);
    // One transfer at a time per reader: one socket, kept alive across objects.
    const { host, target } = s3Target(spec);
    this.host = host;
    this.conn = new Http1Connection(target);
  }

  setCredentials(c: Credentials): void {
    this.signer.setCredentials(c);
  }

  close(): void {
    this.conn.close();
  }

  async read(key: string, range?: ByteRange): Promise<Buffer | null> {
    const p = s3Path(this.spec, key);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(p, range);
      } catch (err) {
        if (!(err instanceof TransientHttpError) || attempt >= this.spec.maxAttempts)
          throw s3Failure('GET', key, this.spec.description, err);
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  private async once(p: string, range?: ByteRange): Promise<Buffer | null> {
    const extra: Record<string, string> = range ? { range: `bytes=${range.start}-${range.end - 1}` } : {};
    const headers = this.signer.sign('GET', this.host, p, extra);
    const deadline = setTimeout(
      () =>
        this.conn.abort(
          new TransientHttpError(`no complete answer within ${this.spec.deadlineMs} ms (timed out)`),
        ),
      this.spec.deadlineMs,
    );
    let res: Awaited<ReturnType<Http1Connection['get']>>;
    try {
      res = await this.conn.get(p, headers, (n) => this.scratch.get(n));
    } finally {
      clearTimeout(deadline);
    }
    const st = res.status;
    if (st === 404) return null;
    if (st !== 200 && st !== 206) throw s3AnswerError(res);
    if (range && st !== 206 && !(range.start === 0 && res.body.length === range.end))
      throw new Error(`asked for bytes ${range.start}-${range.end - 1}, got HTTP ${st} without a range`);
    return res.body;
  }
}
