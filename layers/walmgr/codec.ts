// Compression for stored objects. zstd level 1 is the default: measured on 16 MiB WAL-like
// segments here it compressed at ~430 MiB/s to 17 % (gzip-1: 110 MiB/s, 22 %; brotli-1:
// 230 MiB/s, 20 %; zstd-3: 190 MiB/s, 21 %) and decompressed at ~750 MiB/s. The async zlib
// calls run on the libuv thread pool, so parallel uploads use every core.
// Every call passes CHUNK as zlib's chunkSize: with the 16 KiB default each 16 MiB segment
// costs ~1000 thread-pool round trips, and measured here 1 MiB chunks made zstd compression
// 1.7× and decompression 2.3× faster (151 → 262 and 210 → 491 MiB/s).
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { WalError } from './errors.ts';

export type Codec = 'zstd' | 'gzip' | 'brotli' | 'none';
export const CODECS: readonly Codec[] = ['zstd', 'gzip', 'brotli', 'none'];

const CHUNK = 1 << 20;
/** ZSTD_COMPRESSBOUND: the largest output zstd can produce for n input bytes. */
const zstdBound = (n: number) => n + (n >>> 8) + (n < 128 << 10 ? ((128 << 10) - n) >>> 11 : 0);
const zstdC = promisify(zlib.zstdCompress);
const zstdD = promisify(zlib.zstdDecompress);
const gzipC = promisify(zlib.gzip);
const gzipD = promisify(zlib.gunzip);
const brC = promisify(zlib.brotliCompress);
const brD = promisify(zlib.brotliDecompress);

export function parseCodec(v: string): Codec {
  if ((CODECS as readonly string[]).includes(v)) return v as Codec;
  throw new WalError('invalid', `unknown compression ${JSON.stringify(v)}: use one of ${CODECS.join(', ')}`);
}

/**
 * `checksum`: zstd frames carry their content checksum (XXH64 of the plain bytes, checked by
 * the decompressor): backups in manifest format 3, whose restore checks the SHA-256 of the
 * stored bytes instead of the plain ones (layers/walmgr/README.md, "Verification").
 */
export async function compress(
  codec: Codec,
  data: Buffer,
  opts: { checksum?: boolean } = {},
): Promise<Buffer> {
  switch (codec) {
    case 'zstd':
      // One output buffer as large as the input: the result is a slice of it, not 1 MiB chunks
      // joined at the end (a copy, and more memory for the collector to chase).
      return zstdC(data, {
        chunkSize: Math.max(CHUNK, zstdBound(data.length)),
        params: {
          [zlib.constants.ZSTD_c_compressionLevel]: 1,
          ...(opts.checksum ? { [zlib.constants.ZSTD_c_checksumFlag]: 1 } : {}),
        },
      });
    case 'gzip':
      return gzipC(data, { chunkSize: CHUNK, level: 1 });
    case 'brotli':
      return brC(data, { chunkSize: CHUNK, params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
    case 'none':
      return data;
  }
}

/** zlib output chunk for a known result size: all of it in one buffer (plus slack). */
const outputChunk = (expectedSize?: number) =>
  expectedSize === undefined ? CHUNK : Math.max(64 * 1024, expectedSize + 1024);

/**
 * `expectedSize` (when the caller knows the uncompressed size) sizes zlib's output chunk so
 * the result is one buffer instead of 1 MiB chunks concatenated at the end: one copy and
 * one large allocation less per object.
 */
export async function decompress(codec: string, data: Buffer, expectedSize?: number): Promise<Buffer> {
  const chunkSize = outputChunk(expectedSize);
  try {
    switch (codec) {
      case 'zstd':
        return await zstdD(data, { chunkSize });
      case 'gzip':
        return await gzipD(data, { chunkSize });
      case 'brotli':
        return await brD(data, { chunkSize });
      case 'none':
        return data;
    }
  } catch (err) {
    throw new WalError(
      'corrupt',
      `stored object does not decompress as ${codec}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  throw new WalError('corrupt', `stored object names unknown compression ${JSON.stringify(codec)}`);
}

/**
 * decompress() without the thread pool, for restore's worker threads (which are the
 * parallelism there). `expectedSize` as in decompress().
 */
export function decompressSync(codec: string, data: Uint8Array, expectedSize: number): Buffer {
  const chunkSize = outputChunk(expectedSize);
  switch (codec) {
    case 'zstd':
      return zlib.zstdDecompressSync(data, { chunkSize });
    case 'gzip':
      return zlib.gunzipSync(data, { chunkSize });
    case 'brotli':
      return zlib.brotliDecompressSync(data, { chunkSize });
    case 'none':
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new WalError('corrupt', `stored object names unknown compression ${JSON.stringify(codec)}`);
}

export function compressStream(codec: Codec): Transform {
  switch (codec) {
    case 'zstd':
      return zlib.createZstdCompress({
        chunkSize: CHUNK,
        params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 },
      });
    case 'gzip':
      return zlib.createGzip({ chunkSize: CHUNK, level: 1 });
    case 'brotli':
      return zlib.createBrotliCompress({
        chunkSize: CHUNK,
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 },
      });
    case 'none':
      return new Transform({ transform: (c, _e, cb) => cb(null, c) });
  }
}

export function decompressStream(codec: string): Transform {
  switch (codec) {
    case 'zstd':
      return zlib.createZstdDecompress({ chunkSize: CHUNK });
    case 'gzip':
      return zlib.createGunzip({ chunkSize: CHUNK });
    case 'brotli':
      return zlib.createBrotliDecompress({ chunkSize: CHUNK });
    case 'none':
      return new Transform({ transform: (c, _e, cb) => cb(null, c) });
  }
  throw new WalError('corrupt', `stored object names unknown compression ${JSON.stringify(codec)}`);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Pass-through that hashes and counts what flows through it. */
export class HashCounter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/**
 * Joins small chunks (an HTTP body arrives in 16–64 KiB pieces) into chunks of at least
 * `size` bytes, so the zlib stream after it makes one thread-pool call per `size`.
 */
export class Rechunk extends Transform {
  private parts: Buffer[] = [];
  private held = 0;
  private readonly size: number;
  constructor(size: number) {
    super();
    this.size = size;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(chunk);
    this.held += chunk.length;
    if (this.held >= this.size) this.flushParts();
    cb();
  }
  override _flush(cb: TransformCallback): void {
    if (this.held > 0) this.flushParts();
    cb();
  }
  private flushParts(): void {
    this.push(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.held));
    this.parts = [];
    this.held = 0;
  }
}

/** What Node's zlib engines hold internally (see Decompressor). */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

/** Output chunk of Decompressor.each: small enough to stay in the CPU cache between steps. */
const STEP = 256 * 1024;

/**
 * Streaming decompression into one small buffer reused from chunk to chunk and object to object
 * (one per restore worker): each chunk is hashed and written while it is still in the CPU
 * cache. Measured here on 512 MiB of relation pieces (zstd, decompress + SHA-256 + write):
 * a whole 16 MiB output per piece cost 1.6–2.2 s of CPU (0.5–1.0 s of it the kernel copying
 * from memory into the page cache), 256 KiB chunks 1.3–1.5 s (0.2 s). zlib's own sync calls
 * would also allocate a fresh output per object. zstd goes through the engine's native handle
 * (`writeSync` into our buffer, as Node's own sync path does internally); when a Node version
 * does not expose it, and for the other codecs, the plain sync call, cut into chunks.
 */
export class Decompressor {
  private readonly out = Buffer.allocUnsafe(STEP);
  private zstd: { h: ZlibHandle; state: Uint32Array; error: string | null } | null | undefined;

  private zstdEngine() {
    if (this.zstd !== undefined) return this.zstd;
    const eng = zlib.createZstdDecompress() as unknown as { _handle?: ZlibHandle; _writeState?: unknown };
    const h = eng._handle;
    const state = eng._writeState;
    if (
      !h ||
      typeof h.writeSync !== 'function' ||
      typeof h.reset !== 'function' ||
      !(state instanceof Uint32Array)
    ) {
      this.zstd = null;
      return null;
    }
    const z = { h, state, error: null as string | null };
    // Ours instead of the stream's handler (which would destroy the stream and throw later).
    h.onerror = (message) => {
      z.error = message;
    };
    this.zstd = z;
    return z;
  }

  /**
   * Calls `fn` with each chunk of the decompressed bytes (a view, valid during the call) and
   * returns the total; `expectedSize` only sizes the fallback's output. `input`, when given, is
   * called with the input as it is consumed (in order, all of it once decompression ends), so
   * the stored bytes are hashed while still in the CPU cache. Throws WalError 'corrupt' when
   * the bytes do not decompress.
   */
  each(
    codec: string,
    data: Uint8Array,
    expectedSize: number,
    fn: (chunk: Buffer) => void,
    input?: (chunk: Uint8Array) => void,
  ): number {
    const z = codec === 'zstd' ? this.zstdEngine() : null;
    if (!z) {
      input?.(data);
      let whole: Buffer;
      try {
        whole = decompressSync(codec, data, expectedSize);
      } catch (err) {
        if (err instanceof WalError) throw err;
        throw new WalError(
          'corrupt',
          `stored object does not decompress as ${codec}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      for (let o = 0; o < whole.length; o += STEP) fn(whole.subarray(o, Math.min(whole.length, o + STEP)));
      return whole.length;
    }
    z.h.reset();
    z.error = null;
    let inOff = 0;
    let availIn = data.length;
    let total = 0;
    for (;;) {
      z.h.writeSync(zlib.constants.ZSTD_e_end, data, inOff, availIn, this.out, 0, STEP);
      if (z.error !== null) {
        const msg = z.error;
        this.zstd = undefined; // a fresh engine after an error
        throw new WalError('corrupt', `stored object does not decompress as zstd: ${msg}`);
      }
      const [availOut = 0, left = 0] = z.state;
      const n = STEP - availOut;
      if (input && availIn > left) input(data.subarray(inOff, inOff + availIn - left));
      inOff += availIn - left;
      availIn = left;
      if (n > 0) {
        total += n;
        fn(this.out.subarray(0, n));
      }
      // A full output chunk may mean more to come; otherwise the frame is done.
      if (availOut !== 0) break;
    }
    // Bytes after the frame (never written by backup): still part of what the caller checks.
    if (input && availIn > 0) input(data.subarray(inOff));
    return total;
  }
}
