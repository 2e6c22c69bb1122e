// The COPY OUT reader that passes the provider's CopyData messages on as they are (copy/frames.ts),
// fed a server's byte stream cut at every size: it gives exactly the CopyData messages, each
// piece whole messages, drops CopyOutResponse and the notices in between, counts the rows, and
// hands pg what follows CopyDone — or the ErrorResponse and all after it.
import { describe, expect, it } from 'vitest';
import { CopyOutFrames } from '../../layers/londiste/copy/frames.ts';

function message(code: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = code.charCodeAt(0);
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const rows = Array.from({ length: 40 }, (_, i) => Buffer.from(`${i}\t${'x'.repeat((i * 7) % 23)}\n`));
const frames = rows.map((r) => message('d', r));
const notice = message('N', Buffer.from('SNOTICE\0Mhello\0\0'));
const outResponse = message('H', Buffer.from([0, 0, 0]));
const done = message('c', Buffer.alloc(0));
const complete = message('C', Buffer.from('COPY 40\0'));
const ready = message('Z', Buffer.from('T'));

/** Feeds `stream` to a CopyOutFrames in chunks of `size`; what it pushed and what pg got back. */
async function run(stream: Buffer, size: number) {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
  const handedBack: Buffer[] = [];
  let readable: (() => void) | null = null;
  let dataHandlers: ((b: Buffer) => void)[] = [(b) => handedBack.push(Buffer.from(b))];
  const socket = {
    read: () => chunks.shift() ?? null,
    pause() {},
    // Flowing again (pg's handler back on): the rest of the bytes go to it.
    resume() {
      for (let c = chunks.shift(); c; c = chunks.shift()) for (const h of dataHandlers) h(c);
    },
    on(_ev: 'readable', f: () => void) {
      readable = f;
    },
    removeListener(ev: string, f: unknown) {
      if (ev === 'readable' && f === readable) readable = null;
      if (ev === 'data') dataHandlers = dataHandlers.filter((h) => h !== f);
    },
    addListener(_ev: 'data', f: (b: Buffer) => void) {
      dataHandlers.push(f);
    },
    listeners: () => [...dataHandlers],
  };
  const out = new CopyOutFrames('COPY t TO STDOUT');
  let sent = '';
  out.submit({ stream: socket, query: (t: string) => (sent = t) } as never);
  expect(sent).toBe('COPY t TO STDOUT');
  const pushed: Buffer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    out.on('data', (b: Buffer) => pushed.push(Buffer.from(b)));
    out.on('end', resolve);
    out.on('error', reject);
  });
  // The socket says it has data until everything is read.
  const poke = setInterval(() => (readable as (() => void) | null)?.(), 1);
  await ended;
  clearInterval(poke);
  await new Promise((r) => setTimeout(r, 5)); // the socket resumes on the next tick
  return {
    pushed,
    handedBack: Buffer.concat(handedBack),
    frames: out.frames,
    bytes: out.bytes,
    pgGotSocket: dataHandlers.length === 1,
  };
}

/** Whether `b` is whole CopyData messages. */
function wholeFrames(b: Buffer): boolean {
  let at = 0;
  while (at < b.length) {
    if (b[at] !== 0x64 || b.length - at < 5) return false;
    at += b.readUInt32BE(at + 1) + 1;
  }
  return at === b.length;
}

describe('CopyOutFrames', () => {
  const stream = Buffer.concat([
    outResponse,
    ...frames.slice(0, 10),
    notice,
    ...frames.slice(10),
    done,
    complete,
    ready,
  ]);

  for (const size of [1, 2, 3, 5, 6, 7, 13, 64, 1000, stream.length]) {
    it(`passes exactly the CopyData messages on, whole, in chunks of ${size}`, async () => {
      const r = await run(stream, size);
      expect(Buffer.concat(r.pushed).equals(Buffer.concat(frames))).toBe(true);
      for (const p of r.pushed) expect(wholeFrames(p)).toBe(true);
      expect(r.frames).toBe(40);
      expect(r.bytes).toBe(Buffer.concat(rows).length);
      // pg reads what follows CopyDone: CommandComplete and ReadyForQuery, and has its socket back.
      expect(r.handedBack.equals(Buffer.concat([complete, ready]))).toBe(true);
      expect(r.pgGotSocket).toBe(true);
    });
  }

  it("does not count the binary format's trailer as a row, and passes it on", async () => {
    const trailer = message('d', Buffer.from([0xff, 0xff]));
    const binary = Buffer.concat([outResponse, ...frames.slice(0, 5), trailer, done, complete, ready]);
    for (const size of [1, 6, 7, 64, binary.length]) {
      const r = await run(binary, size);
      expect(Buffer.concat(r.pushed).equals(Buffer.concat([...frames.slice(0, 5), trailer]))).toBe(true);
      expect(r.frames).toBe(5);
    }
  });

  it('hands an ErrorResponse and everything after it to pg, having passed on the rows before it', async () => {
    const error = message('E', Buffer.from('SERROR\0C57014\0Mcanceling statement\0\0'));
    const failing = Buffer.concat([outResponse, ...frames.slice(0, 3), error, ready]);
    for (const size of [1, 4, 5, 9, 64, failing.length]) {
      const r = await run(failing, size);
      expect(Buffer.concat(r.pushed).equals(Buffer.concat(frames.slice(0, 3)))).toBe(true);
      expect(r.handedBack.equals(Buffer.concat([error, ready]))).toBe(true);
      expect(r.frames).toBe(3);
    }
  });
});
