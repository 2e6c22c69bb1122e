// Rows of a `COPY … TO STDOUT` text stream, read as they arrive: the stream is decoded as UTF-8
// (a character split between chunks is kept for the next one) and cut at newlines, which in the
// text format only end rows (a newline inside a value is written as \n). Lines come in arrays, one
// per chunk, so the merge awaits once per chunk, not per row; the stream is read only as fast as
// the caller takes lines, so memory stays at a chunk or two.
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export class CopyLines {
  #it: AsyncIterator<Buffer>;
  #dec = new StringDecoder('utf8');
  #rest = '';
  #buf: string[] = [];
  #i = 0;
  #done = false;
  rows = 0;

  constructor(stream: Readable) {
    this.#it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The current line, or null at the end; `fill()` must have run when `needsFill` was true. */
  get current(): string | null {
    return this.#i < this.#buf.length ? this.#buf[this.#i]! : null;
  }

  get needsFill(): boolean {
    return this.#i >= this.#buf.length && !this.#done;
  }

  advance(): void {
    this.#i++;
    this.rows++;
  }

  /** Reads chunks until at least one line is there or the stream has ended. */
  async fill(): Promise<void> {
    while (this.#i >= this.#buf.length && !this.#done) {
      const r = await this.#it.next();
      if (r.done) {
        this.#done = true;
        const tail = this.#rest + this.#dec.end();
        this.#rest = '';
        this.#buf = tail ? [tail] : [];
        this.#i = 0;
        return;
      }
      const text = this.#rest + this.#dec.write(r.value);
      const lines = text.split('\n');
      this.#rest = lines.pop()!;
      this.#buf = lines;
      this.#i = 0;
    }
  }
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/**
 * One field of the text format → its value: `\N` is NULL; backslash sequences (`\\`, `\t`, `\n`,
 * …, `\NNN` octal, `\xHH` hex) decoded, every other escaped character is itself — as COPY FROM reads it.
 */
export function decodeField(f: string): string | null {
  if (f === '\\N') return null;
  if (!f.includes('\\')) return f;
  let out = '';
  const bytes: number[] = []; // \NNN and \xHH are bytes: runs of them decode as UTF-8
  const flush = () => {
    if (bytes.length) {
      out += Buffer.from(bytes).toString('utf8');
      bytes.length = 0;
    }
  };
  for (let i = 0; i < f.length; i++) {
    const c = f[i]!;
    if (c !== '\\' || i + 1 >= f.length) {
      flush();
      out += c;
      continue;
    }
    const n = f[++i]!;
    if (n >= '0' && n <= '7') {
      let j = i;
      let v = 0;
      while (j < f.length && j < i + 3 && f[j]! >= '0' && f[j]! <= '7') v = v * 8 + (f.charCodeAt(j++) - 48);
      i = j - 1;
      bytes.push(v & 0xff);
    } else if (n === 'x' && /^[0-9a-fA-F]/.test(f[i + 1] ?? '')) {
      const m = /^[0-9a-fA-F]{1,2}/.exec(f.slice(i + 1))![0];
      i += m.length;
      bytes.push(Number.parseInt(m, 16));
    } else {
      flush();
      out += ESCAPES[n] ?? n;
    }
  }
  flush();
  return out;
}

/** Integers as text (optional '-', digits), compared by value without parsing. */
export function compareIntText(a: string, b: string): number {
  const na = a.startsWith('-');
  const nb = b.startsWith('-');
  if (na !== nb) return na ? -1 : 1;
  let c: number;
  if (a.length !== b.length) c = a.length < b.length ? -1 : 1;
  else c = a < b ? -1 : a > b ? 1 : 0;
  return na ? -c : c;
}

/** Strings in code point order, which is the byte order of their UTF-8 (COLLATE "C"). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // UTF-16 order differs from code point order only where surrogates meet U+E000..U+FFFF.
      const cx = a.codePointAt(i)!;
      const cy = b.codePointAt(i)!;
      return cx < cy ? -1 : 1;
    }
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
