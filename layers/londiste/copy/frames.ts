// The provider's COPY OUT read as the server's own CopyData messages, header included, so that
// they go to the subscriber's COPY IN as they are (pipe.ts): a CopyData message is the same bytes
// in both directions, so no row is parsed, copied or framed again on the way. pg-copy-streams'
// COPY OUT took each message's payload apart and joined the payloads again: with the row counter
// that walked every field for progress, most of a table copy's CPU in this process (profile in
// bench/README.md, session 15). Here a socket chunk is walked message header by header (a row
// is a CopyData message: the count is the progress), and its whole messages go on as one slice
// of it; a message cut by the chunk's end is kept back until it is complete, so every piece
// pushed is whole messages — a CopyFail the subscriber's side sends after an error lands between
// messages, never inside one.
//
// The protocol as pg-copy-streams' COPY OUT handles it: the reader takes the connection's socket
// from pg while the COPY runs; CopyOutResponse and the asynchronous messages in between
// (NoticeResponse, ParameterStatus, NotificationResponse) are dropped; at CopyDone, an
// ErrorResponse or any other message, the rest of the bytes goes back to pg, whose parser then
// sees CommandComplete / ReadyForQuery or the error.
import { Readable } from 'node:stream';
import type pg from 'pg';

const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
const ERROR = 0x45; // E
/** Dropped inside COPY OUT: CopyOutResponse, NoticeResponse, ParameterStatus, NotificationResponse. */
const SKIPPED = new Set([0x48, 0x4e, 0x53, 0x41]);
/** Message code (1 byte) + length (int32, counting itself). */
const HEADER = 5;

type DataHandler = (chunk: Buffer) => void;

interface Socket {
  read(): Buffer | null;
  pause(): void;
  resume(): void;
  on(ev: 'readable', f: () => void): void;
  removeListener(ev: string, f: (...a: never[]) => void): void;
  addListener(ev: 'data', f: DataHandler): void;
  listeners(ev: 'data'): DataHandler[];
}

interface Connection {
  stream: Socket;
  query(text: string): void;
}

/**
 * The binary format's trailer, a CopyData message of its own: the int16 -1 (a tuple's field
 * count is never negative, and a text row ends with a newline). Not a row.
 */
function isTrailer(b: Buffer, at: number, total: number): boolean {
  return total === HEADER + 2 && b[at + 5] === 0xff && b[at + 6] === 0xff;
}

/**
 * `COPY … TO STDOUT` as a pg submittable (`client.query(new CopyOutFrames(sql))`) whose readable
 * side gives whole CopyData messages. `frames` / `bytes`: the rows and their bytes read so far
 * (one CopyData message each; the binary header travels in the first row's); `rowCount`: the
 * server's count, once complete.
 */
export class CopyOutFrames extends Readable {
  rowCount = 0;
  frames = 0;
  /** The rows' bytes read so far (CopyData payloads). */
  bytes = 0;
  private connection: Connection | null = null;
  private pgHandler: DataHandler | null = null;
  /** The start of a message the last chunk cut off. */
  private partial: Buffer | null = null;
  private drained = false;
  private forwarding = false;
  private finished = false;
  private readonly onReadable = () => this.forward();

  readonly text: string;

  constructor(text: string) {
    super();
    this.text = text;
  }

  /** Called by pg when the query's turn comes. */
  submit(pgConnection: pg.Connection): void {
    const connection = pgConnection as unknown as Connection;
    this.connection = connection;
    const handlers = connection.stream.listeners('data');
    if (handlers.length !== 1) throw new Error('COPY OUT: expected one data listener on the connection');
    this.pgHandler = handlers[0] as DataHandler;
    connection.stream.removeListener('data', this.pgHandler);
    connection.stream.pause();
    connection.stream.on('readable', this.onReadable);
    connection.query(this.text);
  }

  override _read(): void {
    this.drained = true;
    this.forward();
  }

  private forward(): void {
    if (this.forwarding || !this.drained || !this.connection || this.finished) return;
    this.forwarding = true;
    while (this.drained && !this.finished && this.connection) {
      const chunk: Buffer | null = this.connection.stream.read();
      if (chunk === null) break;
      this.parse(chunk);
    }
    this.forwarding = false;
  }

  /** Walks one socket chunk: whole CopyData messages on, the rest as the protocol says. */
  private parse(input: Buffer): void {
    let chunk = input;
    if (this.partial) {
      // Complete the message the last chunk cut off, then go on at a message boundary.
      const head = this.partial;
      if (head[0] === ERROR) {
        this.handBack(Buffer.concat([head, chunk]));
        return;
      }
      const have = Buffer.concat([head, chunk.subarray(0, Math.max(0, HEADER - head.length))]);
      if (have.length < HEADER) {
        this.partial = have;
        return;
      }
      const total = have.readUInt32BE(1) + 1;
      if (head.length + chunk.length < total) {
        this.partial = Buffer.concat([head, chunk]);
        return;
      }
      const taken = total - head.length;
      const message = Buffer.concat([head, chunk.subarray(0, taken)]);
      this.partial = null;
      chunk = chunk.subarray(taken);
      if (!this.message(message, chunk)) return;
    }
    let at = 0;
    let run = 0;
    const end = chunk.length;
    while (end - at >= HEADER) {
      const code = chunk[at] as number;
      const total = chunk.readUInt32BE(at + 1) + 1;
      if (code === COPY_DATA) {
        if (at + total > end) break;
        if (!isTrailer(chunk, at, total)) this.row(total);
        at += total;
        continue;
      }
      if (at > run) this.emitData(chunk.subarray(run, at));
      if (code === ERROR) {
        this.handBack(chunk.subarray(at));
        return;
      }
      if (at + total > end) {
        run = at;
        break;
      }
      if (!this.message(chunk.subarray(at, at + total), chunk.subarray(at + total))) return;
      at += total;
      run = at;
    }
    if (at > run) this.emitData(chunk.subarray(run, at));
    this.partial = at < end ? Buffer.from(chunk.subarray(at)) : null;
  }

  /**
   * One whole message that is not in a run of CopyData; `rest`: the bytes after it. False when
   * the COPY is over (the rest went back to pg).
   */
  private message(message: Buffer, rest: Buffer): boolean {
    const code = message[0] as number;
    if (code === COPY_DATA) {
      if (!isTrailer(message, 0, message.length)) this.row(message.length);
      this.emitData(message);
      return true;
    }
    if (SKIPPED.has(code)) return true;
    if (code === ERROR) {
      this.handBack(Buffer.concat([message, rest]));
      return false;
    }
    // CopyDone, or anything else: the COPY is over; pg reads what follows.
    this.handBack(code === COPY_DONE ? rest : Buffer.concat([message, rest]));
    return false;
  }

  /** A row's CopyData message of `total` bytes read. */
  private row(total: number): void {
    this.frames++;
    this.bytes += total - HEADER;
  }

  private emitData(bytes: Buffer): void {
    if (!this.push(bytes)) this.drained = false;
  }

  /** Gives the socket back to pg with the bytes it has not read yet; ends the readable side. */
  private handBack(rest: Buffer): void {
    const connection = this.connection;
    const handler = this.pgHandler;
    if (!connection || !handler || this.finished) return;
    this.finished = true;
    this.partial = null;
    connection.stream.removeListener('readable', this.onReadable);
    connection.stream.addListener('data', handler);
    if (rest.length > 0) handler(rest);
    // As pg-copy-streams: the socket resumes after the handler's own pause decisions.
    process.nextTick(() => connection.stream.resume());
    this.push(null);
  }

  /** pg: the query failed (the error came after the socket was handed back). */
  handleError(err: Error): void {
    this.emit('error', err);
  }

  handleCommandComplete(msg: { text?: string } | undefined): void {
    const m = /COPY (\d+)/.exec(msg?.text ?? '');
    if (m) this.rowCount = Number.parseInt(m[1] as string, 10);
  }

  handleReadyForQuery(): void {}
}

/**
 * Makes a pg-copy-streams COPY IN stream write each chunk as it is, for chunks that are whole
 * CopyData messages already (CopyOutFrames): its own framing (flushChunk: a header, then the
 * chunk) would wrap them a second time. Everything else of its protocol handling stays.
 */
export function passFramesThrough<T extends object>(copyIn: T): T {
  const s = copyIn as unknown as {
    connection: { stream: { write(b: Buffer): boolean } } | null;
    flushChunk(chunk: Buffer): boolean;
  };
  if (typeof s.flushChunk !== 'function') throw new Error('pg-copy-streams COPY IN without flushChunk');
  s.flushChunk = (chunk: Buffer) =>
    (s.connection as { stream: { write(b: Buffer): boolean } }).stream.write(chunk);
  return copyIn;
}
