// The "database urlencode" of SkyTools: `key=value&key2=value2` with form encoding (space as '+',
// everything but letters, digits and `_.-~` as %XX of its UTF-8 bytes), and a key without '='
// meaning NULL ("a&b=" is a: NULL, b: ''). logutriga rows, table_attrs and handler arguments are
// all written this way; the byte-level form matches the original's, so values round-trip between
// our tools and python3-londiste.
import { LondisteError } from './errors.ts';

export type UrlencRow = Record<string, string | null>;

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
  const out: UrlencRow = Object.create(null);
  if (!qs) return out;
  for (const elem of qs.split('&')) {
    if (!elem) continue;
    const eq = elem.indexOf('=');
    if (eq < 0) out[unquotePlus(elem)] = null;
    else out[unquotePlus(elem.slice(0, eq))] = unquotePlus(elem.slice(eq + 1));
  }
  return out;
}

/** Encodes in key order as given; null/undefined values as a bare key. */
export function dbUrlencode(row: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(row)) {
    parts.push(v === null || v === undefined ? quotePlus(k) : `${quotePlus(k)}=${quotePlus(String(v))}`);
  }
  return parts.join('&');
}
