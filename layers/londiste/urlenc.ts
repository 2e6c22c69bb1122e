// The "database urlencode" of SkyTools: `key=value&key2=value2` with form encoding (space as '+',
// everything but letters, digits and `_.-~` as %XX of its UTF-8 bytes), and a key without '='
// meaning NULL ("a&b=" is a: NULL, b: ''). logutriga rows, table_attrs and handler arguments are
// all written this way; the byte-level form matches the original's, so values round-trip between
// our tools and python3-londiste.
import { LondisteError } from './errors.ts';

export type UrlencRow = Record<string, string | null>;

// The prototype of every decoded row: empty and without a prototype of its own, so no column
// name (`__proto__`, `constructor`) means anything but the column — and unlike
// Object.create(null), whose objects V8 keeps as slow dictionaries, rows built on it stay fast
// objects (50,000 rows: built 2× and JSON.stringify-ed 1.5× quicker, bench/README.md §Session 13).
const ROW_PROTO: object = Object.freeze(Object.create(null));

/** An empty row object (see ROW_PROTO). */
export function emptyRow<T = UrlencRow>(): T {
  return Object.create(ROW_PROTO) as T;
}

/** One component, form-decoded. Fast path: most values have nothing to decode. */
export function unquotePlus(s: string): string {
  if (s.indexOf('%') < 0) return s.indexOf('+') < 0 ? s : s.replaceAll('+', ' ');
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    throw new LondisteError('bad_event', `invalid percent-encoding in ${JSON.stringify(s.slice(0, 80))}`);
  }
}

/** One component, form-encoded as the original (Python's quote_plus). */
export function quotePlus(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%20', '+');
}

/** Decodes `a=1&b&c=` → { a: '1', b: null, c: '' }; a repeated key keeps its last value. */
export function dbUrldecode(qs: string): UrlencRow {
  const out: UrlencRow = emptyRow();
  // One pass over the string by index: no split arrays, no per-component regex or replace.
  const n = qs.length;
  let i = 0;
  while (i < n) {
    let amp = qs.indexOf('&', i);
    if (amp < 0) amp = n;
    if (amp > i) {
      const eq = qs.indexOf('=', i);
      if (eq < 0 || eq > amp) out[unquoteRange(qs, i, amp)] = null;
      else out[unquoteRange(qs, i, eq)] = unquoteRange(qs, eq + 1, amp);
    }
    i = amp + 1;
  }
  return out;
}

/** hex digit → value, -1 for anything else. */
function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * unquotePlus of s[from, to): ASCII escapes (`%3A`, `+`) decoded in place; a component with
 * an escape of a byte ≥ 0x80 (UTF-8) or a malformed one goes through unquotePlus whole.
 */
function unquoteRange(s: string, from: number, to: number): string {
  let j = from;
  while (j < to) {
    const c = s.charCodeAt(j);
    if (c === 37 || c === 43) break; // '%' '+'
    j++;
  }
  if (j === to) return s.slice(from, to);
  let out = s.slice(from, j);
  let run = j; // start of the plain run not yet copied
  while (j < to) {
    const c = s.charCodeAt(j);
    if (c === 43) {
      out += `${s.slice(run, j)} `;
      j++;
      run = j;
    } else if (c === 37) {
      const hi = j + 2 < to ? hexVal(s.charCodeAt(j + 1)) : -1;
      const lo = hi >= 0 ? hexVal(s.charCodeAt(j + 2)) : -1;
      if (lo < 0 || hi >= 8) return unquotePlus(s.slice(from, to)); // malformed or not ASCII
      out += s.slice(run, j) + String.fromCharCode(hi * 16 + lo);
      j += 3;
      run = j;
    } else {
      j++;
    }
  }
  return run < to ? out + s.slice(run, to) : out;
}

/** Encodes in key order as given; null/undefined values as a bare key. */
export function dbUrlencode(row: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(row)) {
    parts.push(v === null || v === undefined ? quotePlus(k) : `${quotePlus(k)}=${quotePlus(String(v))}`);
  }
  return parts.join('&');
}
