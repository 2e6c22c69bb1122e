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

// Decoder states (numbers: this loop runs for every field of every row).
const HEADER = 0;
const TUPLE = 1;
const LENGTH = 2;
const SKIP = 3;
const END = 4;
const SIZE = [BINARY_HEADER, 2, 4];

export function binaryRowCounter(): RowCounter {
  // What the next bytes are: the fixed header, a tuple's field count, a field's length, a value
  // (or the header extension) to skip, or nothing more after the trailer.
  let state = HEADER;
  let skip = 0;
  let fieldsLeft = 0;
  // Bytes of a header / count / length split across two chunks (rare: read in place otherwise,
  // without allocating).
  let partial: Buffer | null = null;

  return {
    count(chunk) {
      let rows = 0;
      let at = 0;
      const len = chunk.length;
      while (at < len && state !== END) {
        if (state === SKIP) {
          const n = Math.min(skip, len - at);
          skip -= n;
          at += n;
          if (skip === 0) state = fieldsLeft > 0 ? LENGTH : TUPLE;
          continue;
        }
        const size = SIZE[state] as number;
        let buf = chunk;
        let pos = at;
        if (partial !== null || len - at < size) {
          const have: Buffer = partial
            ? Buffer.concat([partial, chunk.subarray(at, at + size - partial.length)])
            : chunk.subarray(at);
          if (have.length < size) {
            // The rest of the chunk goes into `partial`; the next chunk completes it.
            partial = Buffer.from(have);
            return rows;
          }
          at += size - (partial ? partial.length : 0);
          partial = null;
          buf = have;
          pos = 0;
        } else {
          at += size;
        }
        if (state === LENGTH) {
          const n = buf.readInt32BE(pos);
          fieldsLeft--;
          if (n > 0) {
            skip = n;
            state = SKIP;
          } else {
            state = fieldsLeft > 0 ? LENGTH : TUPLE;
          }
        } else if (state === TUPLE) {
          const fields = buf.readInt16BE(pos);
          if (fields < 0) {
            state = END;
          } else {
            rows++;
            fieldsLeft = fields;
            state = fields > 0 ? LENGTH : TUPLE;
          }
        } else {
          // The header: its extension area is skipped like a value.
          skip = buf.readInt32BE(pos + 15);
          fieldsLeft = 0;
          state = skip > 0 ? SKIP : TUPLE;
        }
      }
      return rows;
    },
  };
}
