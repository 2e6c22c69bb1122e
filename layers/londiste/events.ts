// Decoding Londiste's row events into row changes. Three event shapes reach the default handler,
// as in the original's TableHandler.process_event:
// - logutriga: ev_type `I:pk1,pk2` / `U:…` / `D:…`, ev_data the db-urlencoded row;
// - jsontriga: ev_type `{"op":"INSERT","table":[…],"pkey":[…]}`, ev_data the row as a JSON object;
// - sqltriga: ev_type `I` / `U` / `D`, ev_data an SQL fragment (`(cols) values (…)`,
//   `col='v',… where pk='1'`, `pk='1'`).
// ev_extra1 is the table. Values stay text (NULL as null): the apply casts them to the columns'
// types, so a value means what it would mean as a literal in the original's SQL.
//
// Primary key changes: the triggers refuse an UPDATE that changes a key column ("primary key
// update not allowed"), except logutriga/jsontriga with `ignore=`, where a changed ordinary column
// placed before the key column ends the check early and the event carries the new row only. With
// the `backup` option ev_extra2 holds the old row; when it decodes and its key differs, the change
// carries `oldKey` (the apply deletes the old key and writes the new row). Without `backup` the
// old key is unknown and the change is applied as the original does: an update by the new key.
import type { PgqEvent } from '../pgq/consumer.ts';
import { LondisteError } from './errors.ts';
import { dbUrldecode, emptyRow } from './urlenc.ts';

export type ChangeOp = 'I' | 'U' | 'D';
export type Row = Record<string, string | null>;

/** One row change, decoded (logutriga, jsontriga, or a sqltriga fragment that parsed exactly). */
export interface RowChange {
  kind: 'row';
  evId: bigint;
  /** The source table (ev_extra1). */
  table: string;
  op: ChangeOp;
  /**
   * Column → text value (null: SQL NULL). I: the inserted row. U: the whole new row (logutriga,
   * jsontriga) or the changed columns plus the key (sqltriga, `partial`). D: the old row, or just
   * the key (sqltriga).
   */
  row: Row;
  /**
   * The key columns, in the event's order; null when the event does not name them (a sqltriga
   * INSERT): the destination table's primary key is used.
   */
  key: readonly string[] | null;
  /** U only: true when `row` holds only the changed columns (and the key). */
  partial: boolean;
  /** U only: the key's previous values (in `key` order) when the update changed the key. */
  oldKey?: (string | null)[];
}

/** A sqltriga event whose fragment is kept as SQL: applied as the original does, in order. */
export interface SqlChange {
  kind: 'sql';
  evId: bigint;
  table: string;
  op: ChangeOp;
  /** ev_data: the fragment after `insert into T` / `update only T set` / `delete from only T where`. */
  sql: string;
}

export type TableChange = RowChange | SqlChange;

const isOp = (c: string | undefined): c is ChangeOp => c === 'I' || c === 'U' || c === 'D';

/** Is it an insert/update/delete of one table (the original's is_data_event)? TRUNCATE is not. */
export function isDataEvent(ev: Pick<PgqEvent, 'type'>): boolean {
  const t = ev.type ?? '';
  if (t.length === 1) return isOp(t);
  if (t[1] === ':') return isOp(t[0]);
  return t.startsWith('{"') && !isJsonTruncate(t);
}

/** A TRUNCATE of one table: logutriga/sqltriga `R`, jsontriga op TRUNCATE. */
export function isTruncateEvent(ev: Pick<PgqEvent, 'type'>): boolean {
  const t = ev.type ?? '';
  return t === 'R' || (t.startsWith('{"') && isJsonTruncate(t));
}

function isJsonTruncate(t: string): boolean {
  const h = typeHead(t);
  return typeof h !== 'string' && h.jsonOp === 'TRUNCATE';
}

interface TypeHead {
  /** The op letter (I/U/D/T…), undefined when the type has none. */
  op: string | undefined;
  key: string[];
  /** jsontriga: the op as written. */
  jsonOp?: unknown;
}

// A batch repeats the same few ev_type strings (one per table and operation): their parse is
// cached, which also lets the changes of one table share one key array.
const heads = new Map<string, TypeHead | string>();

/** JSON text → value; undefined when it is not JSON. */
function parseJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}

/** ev_type (logutriga `I:a,b` or jsontriga JSON) → op and key, or an error text. */
function typeHead(type: string): TypeHead | string {
  let h = heads.get(type);
  if (h !== undefined) return h;
  if (type.startsWith('{')) {
    const j = parseJson(type) as { op?: unknown; pkey?: unknown } | null | undefined;
    if (j === undefined) h = 'ev_type is not valid JSON';
    else if (j === null || typeof j !== 'object') h = 'ev_type is not a JSON object';
    else if (!Array.isArray(j.pkey) || !j.pkey.every((k) => typeof k === 'string'))
      h = 'JSON ev_type has no pkey list';
    else h = { op: typeof j.op === 'string' ? j.op[0] : undefined, key: j.pkey as string[], jsonOp: j.op };
  } else if (type[1] === ':') {
    h = { op: type[0], key: type.length === 2 ? [] : type.slice(2).split(',') };
  } else {
    h = 'unknown event type';
  }
  if (heads.size >= 10_000) heads.clear();
  heads.set(type, h);
  return h;
}

function bad(ev: PgqEvent, what: string, cause?: unknown): LondisteError {
  return new LondisteError(
    'bad_event',
    `event ${ev.id} for table ${ev.extra1 ?? '?'}: ${what} (type ${JSON.stringify((ev.type ?? '').slice(0, 80))})`,
    cause === undefined ? {} : { cause },
  );
}

/** Decodes one data event (see isDataEvent) into a change; bad data → LondisteError('bad_event'). */
export function decodeEvent(ev: PgqEvent): TableChange {
  const type = ev.type ?? '';
  const table = ev.extra1;
  if (!table) throw bad(ev, 'no table name in ev_extra1');
  if (ev.data === null) throw bad(ev, 'no row data');
  if (type.length === 1) {
    if (!isOp(type)) throw bad(ev, 'unknown event type');
    return decodeSqlEvent(ev, type, table, ev.data);
  }
  const head = typeHead(type);
  if (typeof head === 'string') throw bad(ev, head);
  const { op, key } = head;
  if (!isOp(op)) throw bad(ev, 'unknown operation');
  const row = decodeRow(ev, ev.data);
  if (op !== 'I') {
    if (key.length === 0) throw bad(ev, 'update or delete without key columns');
    for (const k of key) if (!(k in row)) throw bad(ev, `key column ${k} missing from the row`);
  }
  const change: RowChange = new EventRowChange(ev, table, op, row, key);
  if (op === 'U' && ev.extra2) {
    const oldKey = previousKey(ev.extra2, key);
    if (oldKey?.some((v, i) => v !== row[key[i]!])) change.oldKey = oldKey;
  }
  return change;
}

/**
 * A logutriga/jsontriga change. The event id is read from the event only when asked for (an
 * error message, the ordered fallback): parsing it into a BigInt for every replayed row took
 * ~20 ms per 100k events in the drain's profile, for a value almost never read.
 */
class EventRowChange implements RowChange {
  readonly kind = 'row' as const;
  table: string;
  op: ChangeOp;
  row: Row;
  key: readonly string[];
  partial = false;
  oldKey?: (string | null)[];
  readonly #ev: PgqEvent;
  constructor(ev: PgqEvent, table: string, op: ChangeOp, row: Row, key: readonly string[]) {
    this.#ev = ev;
    this.table = table;
    this.op = op;
    this.row = row;
    this.key = key;
  }
  get evId(): bigint {
    return this.#ev.id;
  }
}

/** The row of a logutriga/jsontriga event: JSON when it starts with '{' (as the original decides). */
function decodeRow(ev: PgqEvent, data: string): Row {
  if (data.startsWith('{')) {
    try {
      return jsonRow(data);
    } catch (err) {
      throw bad(ev, 'row data is not a JSON object', err);
    }
  }
  return dbUrldecode(data);
}

/**
 * ev_extra2 (the `backup` option's old row) → the old key, or undefined when it is anything else
 * (ev_extra2 may be set by `ev_extra2=` for other purposes; the original ignores it).
 */
function previousKey(extra2: string, key: readonly string[]): (string | null)[] | undefined {
  let old: Row;
  try {
    old = extra2.startsWith('{') ? jsonRow(extra2) : dbUrldecode(extra2);
  } catch {
    return undefined;
  }
  if (!key.every((k) => k in old)) return undefined;
  return key.map((k) => old[k] ?? null);
}

/**
 * A JSON row as text values: numbers keep their exact source text (an int8 beyond 2^53 stays
 * exact, also inside nested values), booleans 'true'/'false', nested values their JSON text.
 */
function jsonRow(data: string): Row {
  const parsed = JSON.parse(data, (_k, v, ctx?: { source?: string }) =>
    typeof v === 'number' && ctx?.source !== undefined ? rawJson.rawJSON(ctx.source) : v,
  ) as unknown;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('not an object');
  const row: Row = emptyRow();
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (v === null) row[k] = null;
    else if (typeof v === 'string') row[k] = v;
    else if (rawJson.isRawJSON(v)) row[k] = (v as { rawJSON: string }).rawJSON;
    else row[k] = typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  }
  return row;
}

// JSON.rawJSON / isRawJSON (Node 21+) are not in the es2023 lib yet.
const rawJson = JSON as unknown as { rawJSON(s: string): object; isRawJSON(v: unknown): boolean };

// ---- sqltriga fragments ------------------------------------------------------------------------

type Tok =
  | { t: 'ident'; v: string }
  | { t: 'value'; v: string | null }
  | { t: 'word'; v: string }
  | { t: '(' | ')' | ',' | '=' };

class Unparsable extends Error {}

/**
 * Tokens of a fragment: identifiers (plain or "quoted"), values ('…' and E'…' strings, NULL,
 * plain numbers), the keywords values/where/and, and ( ) , =. Anything else — a cast, an
 * operator, a function call, an escape quote_literal never writes — makes the fragment
 * unparsable, and it is applied as SQL.
 */
function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === ',' || c === '=') {
      out.push({ t: c });
      i++;
    } else if (c === "'" || ((c === 'E' || c === 'e') && s[i + 1] === "'")) {
      const esc = c !== "'";
      i += esc ? 2 : 1;
      let v = '';
      for (;;) {
        const q = s.indexOf("'", i);
        const part = q < 0 ? '' : s.slice(i, q);
        if (q < 0) throw new Unparsable('unterminated string');
        if (esc && part.includes('\\')) {
          // quote_literal doubles backslashes and nothing else: any other escape is not ours.
          if (/\\(?!\\)/.test(part.replaceAll('\\\\', ''))) throw new Unparsable('escape');
          v += part.replaceAll('\\\\', '\\');
        } else {
          v += part;
        }
        if (s[q + 1] === "'") {
          v += "'";
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push({ t: 'value', v });
    } else if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (q < 0) throw new Unparsable('unterminated identifier');
        v += s.slice(i, q);
        if (s[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push({ t: 'ident', v });
    } else {
      const m = /^(?:-?[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9_$.])|[A-Za-z_][A-Za-z0-9_$]*)/.exec(
        s.slice(i, i + 200),
      );
      if (!m) throw new Unparsable('unexpected character');
      const w = m[0];
      i += w.length;
      const lw = w.toLowerCase();
      if (/^-?[0-9]/.test(w)) out.push({ t: 'value', v: w });
      else if (lw === 'null') out.push({ t: 'value', v: null });
      else if (lw === 'values' || lw === 'where' || lw === 'and') out.push({ t: 'word', v: lw });
      // an unquoted identifier folds to lower case, as PostgreSQL reads it
      else out.push({ t: 'ident', v: lw });
    }
  }
  return out;
}

class Cursor {
  i = 0;
  readonly toks: Tok[];
  constructor(toks: Tok[]) {
    this.toks = toks;
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }
  peek(): Tok | undefined {
    return this.toks[this.i];
  }
  punct(p: '(' | ')' | ',' | '='): void {
    if (this.toks[this.i]?.t !== p) throw new Unparsable(`expected ${p}`);
    this.i++;
  }
  isWord(w: string): boolean {
    const t = this.toks[this.i];
    return t?.t === 'word' && t.v === w;
  }
  word(w: string): void {
    if (!this.isWord(w)) throw new Unparsable(`expected ${w}`);
    this.i++;
  }
  ident(): string {
    const t = this.toks[this.i++];
    if (t?.t !== 'ident') throw new Unparsable('expected a column name');
    return t.v;
  }
  value(): string | null {
    const t = this.toks[this.i++];
    if (t?.t !== 'value') throw new Unparsable('expected a value');
    return t.v;
  }
}

/** `a='1' and b='x'` → pairs (every column once). */
function parseAssignments(c: Cursor, sep: 'and' | ','): [string, string | null][] {
  const out: [string, string | null][] = [];
  const seen = new Set<string>();
  for (;;) {
    const col = c.ident();
    c.punct('=');
    const v = c.value();
    if (seen.has(col)) throw new Unparsable(`column ${col} twice`);
    seen.add(col);
    out.push([col, v]);
    if (sep === 'and' ? !c.isWord('and') : c.peek()?.t !== ',') return out;
    c.i++;
  }
}

function decodeSqlEvent(ev: PgqEvent, op: ChangeOp, table: string, data: string): TableChange {
  try {
    const c = new Cursor(tokenize(data));
    const row: Row = emptyRow();
    let key: string[] | null = null;
    let partial = false;
    if (op === 'I') {
      c.punct('(');
      const cols: string[] = [c.ident()];
      while (c.peek()?.t === ',') {
        c.i++;
        cols.push(c.ident());
      }
      c.punct(')');
      c.word('values');
      c.punct('(');
      const vals: (string | null)[] = [c.value()];
      while (c.peek()?.t === ',') {
        c.i++;
        vals.push(c.value());
      }
      c.punct(')');
      if (cols.length !== vals.length || new Set(cols).size !== cols.length)
        throw new Unparsable('column list');
      cols.forEach((col, i) => {
        row[col] = vals[i]!;
      });
    } else if (op === 'U') {
      const set = parseAssignments(c, ',');
      c.word('where');
      const where = parseAssignments(c, 'and');
      key = where.map(([k]) => k);
      for (const [k, v] of where) row[k] = v;
      for (const [k, v] of set) {
        // A SET of a key column to another value moves the row, keeping the columns the fragment
        // does not name: only the statement itself does that exactly.
        if (k in row && row[k] !== v) throw new Unparsable('key change');
        row[k] = v;
      }
      partial = true;
    } else {
      const where = parseAssignments(c, 'and');
      key = where.map(([k]) => k);
      for (const [k, v] of where) row[k] = v;
    }
    if (!c.done()) throw new Unparsable('trailing text');
    return { kind: 'row', evId: ev.id, table, op, row, key, partial };
  } catch (err) {
    if (err instanceof Unparsable) return { kind: 'sql', evId: ev.id, table, op, sql: data };
    throw err;
  }
}
