// A minimal HTTP/1.1 client over one kept-alive socket (plain or TLS) that reads into one
// static buffer (`onread`), for the SDK-free S3 paths (direct-read.ts, s3-http.ts). Why not
// node:http(s): over TLS Node hands every record up as a fresh Buffer; that external memory made
// V8 run a full collection every ~64 MiB read, per worker. Measured on 93 GETs of 4 MiB over TLS
// here: node:https 1.8–2.0 s of CPU with 38–50 collections, this 0.7 s with 2 (bench/README.md,
// session 8).
// Only what S3 requests need: a request with an optional body (sent as given, Content-Length set
// by the caller), the status line, headers, and a body framed by Content-Length or chunked (none
// for HEAD, 204 and 304). A 2xx body framed by Content-Length goes into a buffer the caller
// gives; a chunked 2xx body (listings) is gathered, up to MAX_CHUNKED_BODY; an error body is kept
// (its first MAX_ERROR_BODY bytes, framed by Content-Length, chunked or the end of the
// connection) as text for the message, and the socket is then closed. No pipelining: one request
// at a time per connection.
import net from 'node:net';
import tls from 'node:tls';

export interface Http1Target {
  tls: boolean;
  hostname: string;
  port: number;
  /** TLS server name (SNI); absent for an IP address (RFC 6066). */
  servername?: string;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface Http1Response {
  status: number;
  /** Lower-cased names. */
  headers: Map<string, string>;
  /**
   * 2xx framed by Content-Length: a view of the buffer `alloc` gave, exactly that many bytes; a
   * chunked 2xx: the gathered body; no body (HEAD, 204, 304): empty; else the error body.
   */
  body: Buffer<ArrayBufferLike>;
}

/** A failure worth another attempt (network, timeouts, a connection closed early). */
export class TransientHttpError extends Error {}

const READ_BUF = 256 * 1024;
const MAX_HEAD = 64 * 1024;
const MAX_ERROR_BODY = 8 * 1024;
/** A chunked 2xx body (an S3 listing: ~1000 keys per page) larger than this is refused. */
const MAX_CHUNKED_BODY = 64 * 1024 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

interface Pending {
  /** HEAD: the answer has no body whatever its headers say. */
  headOnly: boolean;
  alloc: (n: number) => Buffer;
  resolve: (r: Http1Response) => void;
  reject: (e: Error) => void;
  head: Buffer;
  headLen: number;
  res: Http1Response | null;
  /** Body bytes expected (-1: until the chunked body's end, or the end of the connection). */
  want: number;
  got: number;
  /** The decoder of a chunked body; null for other framings. */
  dechunk: Dechunker | null;
  /** A chunked 2xx body, gathered (copies: the read buffer is reused). */
  parts: Buffer[] | null;
  close: boolean;
}

export class Http1Connection {
  private readonly target: Http1Target;
  private readonly rbuf = Buffer.allocUnsafe(READ_BUF);
  private sock: net.Socket | null = null;
  private ready: Promise<void> | null = null;
  private cur: Pending | null = null;

  constructor(target: Http1Target) {
    this.target = target;
  }

  /** GET `path`; `alloc(n)` gives the buffer for a 2xx body of n bytes. */
  get(path: string, headers: Record<string, string>, alloc: (n: number) => Buffer): Promise<Http1Response> {
    return this.request('GET', path, headers, null, alloc);
  }

  /**
   * `method path` with `headers` (sent as given: the caller sets Content-Length for a body) and
   * an optional body; `alloc(n)` gives the buffer for a 2xx body of n bytes.
   */
  async request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | null,
    alloc: (n: number) => Buffer = (n) => Buffer.allocUnsafe(n),
  ): Promise<Http1Response> {
    if (this.cur) throw new Error('Http1Connection: one request at a time');
    await this.connect();
    const sock = this.sock!;
    let req = `${method} ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) {
      // A line break in a header would end it early and start another (header injection).
      if (/[\r\n]/.test(k) || /[\r\n]/.test(v))
        throw new Error(`header ${JSON.stringify(k)} holds a line break`);
      req += `${k}: ${v}\r\n`;
    }
    req += '\r\n';
    return new Promise<Http1Response>((resolve, reject) => {
      this.cur = {
        headOnly: method === 'HEAD',
        alloc,
        resolve,
        reject,
        head: Buffer.allocUnsafe(4096),
        headLen: 0,
        res: null,
        want: 0,
        got: 0,
        dechunk: null,
        parts: null,
        close: false,
      };
      sock.setTimeout(this.target.idleTimeoutMs);
      if (body && body.length > 0) {
        // One write of the head and the body (no copy: the socket takes both buffers).
        sock.cork();
        sock.write(req);
        sock.write(body);
        sock.uncork();
      } else sock.write(req);
    });
  }

  /** Fails the request in flight (if any) and drops the connection. */
  abort(err: Error): void {
    this.drop(err);
  }

  close(): void {
    this.drop(new Error('connection closed'));
  }

  private connect(): Promise<void> {
    if (this.sock && this.ready) return this.ready;
    const t = this.target;
    const onread = { buffer: this.rbuf, callback: (n: number) => this.onData(n) };
    const sock = t.tls
      ? tls.connect({
          host: t.hostname,
          port: t.port,
          ...(t.servername ? { servername: t.servername } : {}),
          onread,
        } as tls.ConnectionOptions)
      : net.connect({ host: t.hostname, port: t.port, onread });
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('timeout', () => {
      if (this.sock !== sock) return;
      if (this.cur)
        this.drop(new TransientHttpError(`no byte for ${t.idleTimeoutMs} ms (socket idle, timed out)`));
      else this.drop(null);
    });
    sock.on('error', (err) => {
      if (this.sock === sock) this.drop(new TransientHttpError(err.message));
    });
    sock.on('end', () => this.ended(sock));
    sock.on('close', () => this.ended(sock));
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new TransientHttpError(`connect timed out after ${t.connectTimeoutMs} ms`));
        if (this.sock === sock) this.drop(null);
      }, t.connectTimeoutMs);
      sock.once(t.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      // A refused connection or certificate says why (the 'error' comes before 'close').
      sock.once('error', (err) => {
        clearTimeout(timer);
        reject(new TransientHttpError(err.message));
      });
      sock.once('close', () => {
        clearTimeout(timer);
        reject(new TransientHttpError('connection closed while connecting'));
      });
    });
    // A connect failure surfaces through get(); never as an unhandled rejection.
    this.ready.catch(() => {});
    return this.ready;
  }

  private ended(sock: net.Socket): void {
    if (this.sock !== sock) return;
    const p = this.cur;
    // An error body framed by the end of the connection is complete now.
    if (p?.res && p.want < 0 && !p.dechunk) {
      this.finish(p);
      return;
    }
    this.drop(
      p
        ? new TransientHttpError(
            p.res
              ? `response body ended after ${p.got} of ${p.want} bytes`
              : 'connection closed before the response',
          )
        : null,
    );
  }

  private drop(err: Error | null): void {
    const p = this.cur;
    this.cur = null;
    const s = this.sock;
    this.sock = null;
    this.ready = null;
    s?.destroy();
    if (p && err) p.reject(err);
  }

  private onData(n: number): boolean {
    const p = this.cur;
    if (!p) {
      // Bytes nobody asked for: the connection is out of step; start afresh next time.
      this.drop(null);
      return false;
    }
    let chunk: Buffer<ArrayBufferLike> = this.rbuf.subarray(0, n);
    if (!p.res) {
      // Usually the whole head is in the first read, followed by the body's first bytes.
      let end = -1;
      let head = chunk;
      if (p.headLen === 0) end = chunk.indexOf(HEAD_END);
      if (end < 0) {
        if (p.headLen + n > p.head.length) {
          const bigger = Buffer.allocUnsafe(Math.max(p.head.length * 2, p.headLen + n));
          p.head.copy(bigger, 0, 0, p.headLen);
          p.head = bigger;
        }
        const from = Math.max(0, p.headLen - 3);
        chunk.copy(p.head, p.headLen);
        p.headLen += n;
        head = p.head.subarray(0, p.headLen);
        end = head.indexOf(HEAD_END, from);
        if (end < 0) {
          if (p.headLen > MAX_HEAD) {
            this.drop(new Error(`response headers longer than ${MAX_HEAD} bytes`));
            return false;
          }
          return true;
        }
      }
      const err = this.parseHead(p, head.toString('latin1', 0, end));
      if (err) {
        this.drop(err);
        return false;
      }
      chunk = head.subarray(end + 4);
    }
    if (p.dechunk) {
      const r = chunk.length > 0 ? p.dechunk.feed(chunk, (d) => this.bodyData(p, d)) : false;
      if (r instanceof Error) {
        this.drop(r);
        return false;
      }
      if (p.parts && p.got > MAX_CHUNKED_BODY) {
        this.drop(new Error(`chunked response body longer than ${MAX_CHUNKED_BODY} bytes`));
        return false;
      }
      if (r) this.finish(p);
      return true;
    }
    if (chunk.length > 0) {
      if (p.want >= 0 && p.got + chunk.length > p.want) {
        this.drop(new Error(`response body longer than its Content-Length ${p.want}`));
        return false;
      }
      this.bodyData(p, chunk);
    }
    if (p.want >= 0 && p.got === p.want) this.finish(p);
    return true;
  }

  /** Body bytes: into the 2xx buffer, the gathered parts, or the error body's first bytes. */
  private bodyData(p: Pending, data: Buffer): void {
    const res = p.res!;
    if (p.parts) p.parts.push(Buffer.from(data));
    else {
      const room = res.body.length - p.got;
      if (room > 0) data.copy(res.body, p.got, 0, Math.min(data.length, room));
    }
    p.got += data.length;
  }

  private parseHead(p: Pending, head: string): Error | null {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!m) return new Error(`not an HTTP/1.x response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
    const status = Number(m[2]);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
    }
    if (status >= 100 && status < 200) return new Error(`unexpected HTTP ${status} response`);
    p.close = m[1] === '0' || /\bclose\b/i.test(headers.get('connection') ?? '');
    const cl = headers.get('content-length');
    const len = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1;
    const chunked = /chunked/i.test(headers.get('transfer-encoding') ?? '');
    if (p.headOnly || status === 204 || status === 304) {
      // No body, whatever Content-Length says (it is the GET's size for a HEAD).
      p.want = 0;
      p.res = { status, headers, body: EMPTY };
    } else if (status >= 200 && status < 300) {
      if (chunked) {
        p.want = -1;
        p.dechunk = new Dechunker();
        p.parts = [];
        p.res = { status, headers, body: EMPTY };
      } else {
        if (len < 0) return new Error('response without Content-Length');
        p.want = len;
        p.res = { status, headers, body: p.alloc(len) };
      }
    } else {
      // Error bodies only feed a message: at most MAX_ERROR_BODY kept; the socket is closed after.
      p.close = true;
      p.dechunk = chunked ? new Dechunker() : null;
      p.want = chunked ? -1 : len;
      p.res = {
        status,
        headers,
        body: Buffer.allocUnsafe(len >= 0 && !chunked ? Math.min(len, MAX_ERROR_BODY) : MAX_ERROR_BODY),
      };
    }
    return null;
  }

  private finish(p: Pending): void {
    const res = p.res!;
    if (p.parts) res.body = Buffer.concat(p.parts, p.got);
    else if (res.status < 200 || res.status >= 300)
      res.body = res.body.subarray(0, Math.min(p.got, res.body.length));
    this.cur = null;
    if (p.close) this.drop(null);
    else this.sock?.setTimeout(0);
    p.resolve(res);
  }
}

/**
 * The chunked transfer coding, decoded as bytes arrive (RFC 9112 §7.1): size lines (extensions
 * ignored), data, the CRLF after each chunk, the last chunk and any trailer lines up to the
 * empty one.
 */
class Dechunker {
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private line = '';
  private left = 0;

  /** Feeds bytes; `out` gets each run of data. True once the body has ended. */
  feed(b: Buffer, out: (data: Buffer) => void): boolean | Error {
    let at = 0;
    while (at < b.length) {
      switch (this.state) {
        case 'data': {
          const n = Math.min(this.left, b.length - at);
          out(b.subarray(at, at + n));
          at += n;
          this.left -= n;
          if (this.left === 0) this.state = 'data-end';
          break;
        }
        case 'done':
          return new Error('bytes after the end of a chunked response body');
        default: {
          // size, data-end (the CRLF after a chunk's data) and trailer: one line each.
          const nl = b.indexOf(10, at);
          const end = nl < 0 ? b.length : nl;
          this.line += b.toString('latin1', at, end);
          if (this.line.length > 4096) return new Error('chunked response body: line too long');
          at = end;
          if (nl < 0) break;
          at++;
          const line = this.line.replace(/\r$/, '');
          this.line = '';
          if (this.state === 'data-end') {
            if (line !== '') return new Error('chunked response body: no line end after a chunk');
            this.state = 'size';
          } else if (this.state === 'size') {
            const size = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(line);
            if (!size)
              return new Error(`chunked response body: bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
            this.left = Number.parseInt(size[1]!, 16);
            this.state = this.left === 0 ? 'trailer' : 'data';
          } else if (line === '') {
            this.state = 'done';
            if (at < b.length) return new Error('bytes after the end of a chunked response body');
            return true;
          }
        }
      }
    }
    return false;
  }
}
