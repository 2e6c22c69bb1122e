// `obfuscate`: the default handler's replay, with every column of the row passed through its rule
// from the obfuscator_map file — keep, skip (also: not named), bool (`t` for a non-empty value),
// hash32 / hash64 (signed integers) or hash (a uuid of variant 0) of a keyed BLAKE2s
// (obfuscator_key), or, for a JSON column, nested rules of the same kind — on replay, on the
// initial copy, and in the events a branch passes on, so nothing below this node sees the
// original values. The same values as the original's obfuscate.py for the same key.
//
// [londiste] keys, as the original: obfuscator_map (file, relative to the config file's
// directory), obfuscator_key (text).
import path from 'node:path';
import type { PgqEvent } from '../../pgq/consumer.ts';
import { LondisteError } from '../errors.ts';
import { decodeEvent, type Row, type RowChange } from '../events.ts';
import type {
  ApplyContext,
  CopyContext,
  CopyStats,
  HandlerArgs,
  HandlerConf,
  HandlerSpec,
} from '../handler.ts';
import { dbUrldecode, dbUrlencode } from '../urlenc.ts';
import { blake2s } from './blake2s.ts';
import { copyRows } from './copy-rows.ts';
import { LondisteHandler } from './londiste.ts';
import { type Rules, readRulesFile } from './rules-file.ts';

const state: { key: Uint8Array; mapFile: string | null; map: Record<string, Rules> | null } = {
  key: new Uint8Array(0),
  mapFile: null,
  map: null,
};

function loadObfuscateConf(c: HandlerConf): void {
  state.key = new TextEncoder().encode(c.get('obfuscator_key') ?? '');
  const f = c.get('obfuscator_map');
  state.mapFile = f ? path.resolve(c.configDir, f) : null;
  state.map = null; // read when a table first needs it
}

/** For tests and embedders: the rules and key without a config file. */
export function setObfuscatorRules(map: Record<string, Rules>, key: string): void {
  state.map = map;
  state.mapFile = null;
  state.key = new TextEncoder().encode(key);
}

function rulesOf(table: string): Rules {
  if (!state.map) {
    if (!state.mapFile)
      throw new LondisteError('usage', 'obfuscate: obfuscator_map is not set in [londiste]');
    state.map = readRulesFile(state.mapFile);
  }
  const r = state.map[table];
  if (!r || typeof r !== 'object')
    throw new LondisteError('usage', `obfuscate: source table not in obfuscator_map: ${table}`);
  return r;
}

export const obfuscateHandlerSpec: HandlerSpec = {
  name: 'obfuscate',
  summary: 'Handler that uses keyed-hash to obfuscate data (rules: obfuscator_map, key: obfuscator_key).',
  args: [],
  create: (tableName, args, destTable) => new ObfuscateHandler(tableName, args, destTable),
  loadConf: loadObfuscateConf,
};

// ---- the hashes ---------------------------------------------------------------------------------

type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [k: string]: JsonValue };

/** The original's as_bytes: text as UTF-8, integers as digits, floats as their repr. */
function asBytes(v: string | number | boolean): Uint8Array {
  if (typeof v === 'string') return new TextEncoder().encode(v);
  if (typeof v === 'boolean') return new TextEncoder().encode(v ? '1' : '0');
  return new TextEncoder().encode(Number.isInteger(v) ? v.toFixed(0) : String(v));
}

function digest(v: string | number | boolean, n: number): Uint8Array {
  return blake2s(asBytes(v), n, state.key);
}

function signed(bytes: Uint8Array): bigint {
  let x = 0n;
  for (const b of bytes) x = (x << 8n) | BigInt(b);
  const bits = BigInt(bytes.length * 8);
  return x >= 1n << (bits - 1n) ? x - (1n << bits) : x;
}

export function hash32(v: string | number | boolean): bigint {
  return signed(digest(v, 4));
}
export function hash64(v: string | number | boolean): bigint {
  return signed(digest(v, 8));
}
export function hash128(v: string | number | boolean): string {
  const b = digest(v, 16);
  b[8] = b[8]! & 0x7f; // variant 0 (a normal uuid is variant 1)
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A column's text value through its action; undefined: the column is dropped. */
function obfColumn(value: string | null, action: string | Rules): string | null | undefined {
  if (typeof action === 'object') return obfJsonText(value, action);
  switch (action) {
    case 'keep':
      return value;
    case 'skip':
      return undefined;
    case 'bool':
      return value == null ? null : value ? 't' : 'f';
    case 'hash32':
      return value == null ? null : String(hash32(value));
    case 'hash64':
      return value == null ? null : String(hash64(value));
    case 'hash':
      return value == null ? null : hash128(value);
    default:
      throw new LondisteError('usage', `obfuscate: invalid value for action: ${JSON.stringify(action)}`);
  }
}

function obfJsonText(value: string | null, rules: Rules): string | null {
  if (value == null) return null;
  let data: JsonValue;
  try {
    data = JSON.parse(value) as JsonValue;
  } catch (err) {
    throw new LondisteError('bad_event', `obfuscate: not JSON: ${(err as Error).message}`);
  }
  return pyJsonDumps(obfJson(data, rules) ?? {});
}

/** The original's obf_json: nested rules over a JSON value. */
export function obfJson(data: JsonValue | undefined, rule: string | Rules): JsonValue | undefined {
  if (typeof rule === 'object') {
    if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data))
      return undefined;
    const out: Record<string, JsonValue> = {};
    for (const [k, r] of Object.entries(rule)) {
      const v = obfJson((data as Record<string, JsonValue>)[k], r);
      if (v !== undefined && v !== null) out[k] = v;
    }
    return Object.keys(out).length ? out : undefined;
  }
  if (rule === 'keep') return data;
  if (rule === 'skip') return undefined;
  if (data !== null && typeof data === 'object') return undefined;
  if (data === undefined || data === null) return undefined;
  const scalar = data as string | number | boolean;
  switch (rule) {
    case 'bool':
      return scalar ? 't' : 'f';
    case 'hash32':
      return hash32(scalar);
    case 'hash64':
      return hash64(scalar);
    case 'hash':
      return hash128(scalar);
    default:
      throw new LondisteError('usage', `obfuscate: invalid rule value: ${JSON.stringify(rule)}`);
  }
}

/** Python's json.dumps layout (`, ` and `: `, non-ASCII as \\uXXXX), so JSON text columns match. */
export function pyJsonDumps(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? v.toFixed(0) : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string')
    return JSON.stringify(v).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  if (Array.isArray(v)) return `[${v.map(pyJsonDumps).join(', ')}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${pyJsonDumps(k)}: ${pyJsonDumps(x)}`)
    .join(', ')}}`;
}

/** A row through the table's rules; columns without a rule are dropped. */
export function obfuscateRow(table: string, row: Row): Row {
  const rules = rulesOf(table);
  const out: Row = {};
  for (const [col, value] of Object.entries(row)) {
    const v = obfColumn(value, rules[col] ?? 'skip');
    if (v !== undefined) out[col] = v;
  }
  return out;
}

/** A JSON row's values as text, as decodeEvent gives them (objects as JSON text). */
function textRow(r: Record<string, unknown>): Row {
  return Object.fromEntries(
    Object.entries(r).map(([k, v]) => [
      k,
      v == null ? null : typeof v === 'object' ? JSON.stringify(v) : String(v),
    ]),
  );
}

// ---- the handler --------------------------------------------------------------------------------

export class ObfuscateHandler extends LondisteHandler {
  constructor(tableName: string, args: HandlerArgs, destTable?: string | null) {
    super(tableName, args, destTable, obfuscateHandlerSpec);
  }

  private change(ev: PgqEvent): RowChange {
    const ch = decodeEvent(ev);
    if (ch.kind !== 'row' || ch.partial || (ev.type ?? '').length === 1)
      throw new LondisteError(
        'bad_event',
        `event ${ev.id}: obfuscate needs whole rows (logutriga or jsontriga)`,
      );
    const row = obfuscateRow(this.tableName, ch.row);
    const rules = rulesOf(this.tableName);
    const key = ch.key?.filter((k) => k in row) ?? null;
    const out: RowChange = { ...ch, row, key };
    if (ch.oldKey && ch.key) {
      out.oldKey = ch.key
        .map((k, i) => [k, ch.oldKey![i] ?? null] as const)
        .filter(([k]) => k in row)
        .map(([k, v]) => obfColumn(v, rules[k] ?? 'skip') ?? null);
    }
    return out;
  }

  override async processEvent(ev: PgqEvent, ctx: ApplyContext): Promise<void> {
    if (ctx.applier.add(this.destTable, this.change(ev)))
      await ctx.applier.flushBehind(ctx.local, this.destTable);
  }

  /**
   * Below a branch only the obfuscated row travels — the old row of a `backup` trigger in
   * ev_extra2 too (the original passes that on as it came).
   */
  copyEvent(ev: PgqEvent, _queue: string): PgqEvent | null {
    const row = this.change(ev).row;
    const json = (ev.data ?? '').startsWith('{');
    const encode = (r: Row) => (json ? JSON.stringify(r) : dbUrlencode(r));
    let extra2 = ev.extra2;
    if (extra2) {
      const old = json ? (JSON.parse(extra2) as Row) : dbUrldecode(extra2);
      extra2 = encode(obfuscateRow(this.tableName, textRow(old)));
    }
    return { ...ev, data: encode(row), extra2 };
  }

  async realCopy(ctx: CopyContext): Promise<CopyStats> {
    const rules = rulesOf(ctx.sourceTable);
    const cols = ctx.columns.filter((c) => (rules[c] ?? 'skip') !== 'skip');
    return copyRows(ctx, {
      srcTable: ctx.sourceTable,
      srcColumns: cols,
      dstTable: this.destTable,
      condition: (await this.copyCondition(ctx)) || undefined,
      transform: (row) => {
        const out: Row = {};
        for (const c of cols) {
          const v = obfColumn(row[c] ?? null, rules[c] ?? 'skip');
          if (v !== undefined) out[c] = v;
        }
        return out;
      },
    });
  }
}
