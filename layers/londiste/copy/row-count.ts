// Counting the rows of a COPY stream as it passes, for progress (the exact total comes from the
// destination's command tag). Text format: one unescaped newline per row (newlines inside values
// travel as \n). Binary format: walk the tuple headers (int16 field count, then int32 length +
// bytes per field), skipping the values, across chunk boundaries.

export interface RowCounter {
  /** Rows completed in this chunk. */
  count(chunk: Buffer): number;
}

export function textRowCounter(): RowCounter {
  return {
    count(chunk) {
      let rows = 0;
      let at = chunk.indexOf(10);
      while (at >= 0) {
        rows++;
        at = chunk.indexOf(10, at + 1);
      }
      return rows;
    },
  };
}

// Signature (11 bytes) + flags (int32) + header extension length (int32).
const BINARY_HEADER = 19;

export function binaryRowCounter(): RowCounter {
  // What the next bytes are: the fixed header, a header extension to skip, a tuple's field count,
  // a field's length, or a field's value to skip.
  let state: 'header' | 'tuple' | 'length' | 'skip' | 'end' = 'header';
  let skip = 0;
  let fieldsLeft = 0;
  let afterSkip: 'tuple' | 'length' = 'tuple';
  // Bytes of a header / count / length split across chunks.
  let partial = Buffer.alloc(0);

  const need = (chunk: Buffer, at: number, n: number): Buffer | null => {
    if (partial.length === 0 && chunk.length - at >= n) return chunk.subarray(at, at + n);
    const have = Buffer.concat([partial, chunk.subarray(at, at + n - partial.length)]);
    if (have.length < n) {
      partial = have;
      return null;
    }
    return have;
  };

  return {
    count(chunk) {
      let rows = 0;
      let at = 0;
      while (at < chunk.length && state !== 'end') {
        if (state === 'skip') {
          const n = Math.min(skip, chunk.length - at);
          skip -= n;
          at += n;
          if (skip === 0) state = afterSkip;
          continue;
        }
        const size = state === 'header' ? BINARY_HEADER : state === 'tuple' ? 2 : 4;
        const before = partial.length;
        const bytes = need(chunk, at, size);
        // The rest of the chunk went into `partial`; the next chunk completes it.
        if (!bytes) break;
        at += size - before;
        partial = Buffer.alloc(0);
        if (state === 'header') {
          skip = bytes.readInt32BE(15);
          afterSkip = 'tuple';
          state = skip > 0 ? 'skip' : 'tuple';
        } else if (state === 'tuple') {
          const fields = bytes.readInt16BE(0);
          if (fields < 0) {
            state = 'end';
          } else {
            rows++;
            fieldsLeft = fields;
            state = fields > 0 ? 'length' : 'tuple';
          }
        } else {
          const len = bytes.readInt32BE(0);
          fieldsLeft--;
          afterSkip = fieldsLeft > 0 ? 'length' : 'tuple';
          if (len > 0) {
            skip = len;
            state = 'skip';
          } else {
            state = afterSkip;
          }
        }
      }
      return rows;
    },
  };
}
