// The EXECUTE attributes of a DDL file: its leading meta-comments, as the original's exec_attrs
// reads them, e.g.
//   --*-- Local-Table: public.orders,
//   --*--     public.order_lines
//   --*-- Need-Function: util.f(2)
// Only comment lines before the first statement count; a line ending in ',' continues on the next
// meta-comment. The attributes travel urlencoded in the EXECUTE event (ev_extra2), and each node
// runs the file only where they match (all or none: a partial match is an error), with
// `@table@` tags replaced by the local (destination) names. Used by `execute` on the root; the
// replay of EXECUTE on the other nodes needs the same rules.
import { quoteFqname } from '../db/ident.ts';
import type { Queryable } from '../db/transaction.ts';
import { LondisteError } from './errors.ts';
import { fqName } from './tables.ts';
import { dbUrldecode, dbUrlencode } from './urlenc.ts';

const PREFIX = '--*--';
const SPLIT_AT = 70;

type Kind = 'table' | 'sequence' | 'destination' | 'need';

/** The keys in the order they are matched and written, with what each checks. */
const KEYS: readonly { name: string; kind: Kind; relkinds?: string; check?: 'schema' | 'function' }[] = [
  { name: 'Local-Table', kind: 'table' },
  { name: 'Local-Sequence', kind: 'sequence' },
  { name: 'Local-Destination', kind: 'destination' },
  { name: 'Need-Table', kind: 'need', relkinds: 'rp' },
  { name: 'Need-Sequence', kind: 'need', relkinds: 'S' },
  { name: 'Need-Function', kind: 'need', check: 'function' },
  { name: 'Need-Schema', kind: 'need', check: 'schema' },
  { name: 'Need-View', kind: 'need', relkinds: 'vm' },
];
const BY_KEY = new Map(KEYS.map((k) => [k.name.toLowerCase(), k]));

/** Local table name → the table its rows go to here (dest_table or itself); sequences: themselves. */
export interface LocalObjects {
  tables: ReadonlyMap<string, string>;
  seqs: ReadonlyMap<string, string>;
}

export class ExecAttrs {
  /** Lower-case key → values, in the order first seen. */
  readonly attrs = new Map<string, string[]>();

  static fromSql(sql: string): ExecAttrs {
    const a = new ExecAttrs();
    let continued: string | null = null;
    for (const raw of sql.split(/\r?\n/)) {
      const ln = raw.trim();
      if (!ln) continue;
      if (!ln.startsWith('--')) break;
      if (!ln.startsWith(PREFIX)) continue;
      const body = ln.slice(PREFIX.length).trim();
      if (!body) continue;
      let key: string;
      let values: string;
      if (continued) {
        key = continued;
        values = body;
      } else {
        const colon = body.indexOf(':');
        if (colon < 0) continue;
        key = body.slice(0, colon).trim();
        values = body.slice(colon + 1);
      }
      for (const v of values.split(',')) if (v.trim()) a.add(key, v);
      continued = body.endsWith(',') ? key : null;
    }
    return a;
  }

  static fromUrlenc(s: string | null): ExecAttrs {
    const a = new ExecAttrs();
    for (const [k, v] of Object.entries(dbUrldecode(s ?? '')))
      for (const x of (v ?? '').split(',')) a.add(k, x);
    return a;
  }

  add(key: string, value: string): void {
    const k = key.trim().toLowerCase();
    if (!BY_KEY.has(k))
      throw new LondisteError(
        'usage',
        `invalid EXECUTE attribute ${JSON.stringify(key.trim())}: expected one of ${KEYS.map((x) => x.name).join(', ')}`,
      );
    const list = this.attrs.get(k) ?? [];
    list.push(value.trim());
    this.attrs.set(k, list);
  }

  /** ev_extra2 of the EXECUTE event; null when the file has no attributes. */
  toUrlenc(): string | null {
    if (!this.attrs.size) return null;
    return dbUrlencode(Object.fromEntries([...this.attrs].map(([k, v]) => [k, v.join(',')])));
  }

  /** The attributes as meta-comments, long lists wrapped as the original wraps them. */
  toSql(): string {
    const lines: string[] = [];
    for (const k of KEYS) {
      const vs = this.attrs.get(k.name.toLowerCase());
      if (!vs) continue;
      let ln = `${PREFIX} ${k.name}: `;
      let start = 0;
      vs.forEach((v, nr) => {
        ln += nr > start ? `, ${v}` : v;
        if (ln.length >= SPLIT_AT && nr < vs.length - 1) {
          lines.push(`${ln},`);
          ln = `${PREFIX}     `;
          start = nr + 1;
        }
      });
      lines.push(ln);
    }
    return lines.join('\n');
  }

  /**
   * Whether the file runs on this node: no attributes → yes; every named object matches → yes;
   * none matches → no; some do and some do not → error, as the original.
   */
  async needExecute(db: Queryable, local: LocalObjects): Promise<boolean> {
    if (!this.attrs.size) return true;
    const good: string[] = [];
    const miss: string[] = [];
    for (const k of KEYS) {
      for (const v of this.attrs.get(k.name.toLowerCase()) ?? []) {
        ((await matches(db, k, v, local)) ? good : miss).push(v);
      }
    }
    if (good.length && miss.length)
      throw new LondisteError(
        'state',
        `EXECUTE only partially matches this node: matches ${good.join(', ')}; misses ${miss.join(', ')}`,
      );
    return miss.length === 0;
  }

  /** The SQL with `@name@` of Local-* attributes replaced by the local object's quoted name. */
  processSql(sql: string, local: LocalObjects): string {
    let out = sql;
    for (const [k, vs] of this.attrs) {
      if (BY_KEY.get(k)!.kind === 'need') continue;
      for (const v of vs) {
        const fq = fqName(v);
        const name = local.tables.get(fq) ?? local.seqs.get(fq);
        if (!name) throw new LondisteError('state', `EXECUTE: ${v} is not local here`);
        out = out.replaceAll(`@${v}@`, quoteFqname(name));
      }
    }
    return out;
  }
}

async function matches(
  db: Queryable,
  k: (typeof KEYS)[number],
  value: string,
  local: LocalObjects,
): Promise<boolean> {
  const fq = fqName(value);
  switch (k.kind) {
    case 'table':
      return local.tables.has(fq);
    case 'sequence':
      return local.seqs.has(fq);
    case 'destination': {
      const dest = local.tables.get(fq);
      return dest !== undefined && (await relExists(db, dest, 'rp'));
    }
    default:
      if (k.check === 'schema')
        return (
          (await db.query('select 1 from pg_catalog.pg_namespace where nspname = $1', [value])).rows.length >
          0
        );
      if (k.check === 'function') return functionExists(db, value);
      return relExists(db, fq, k.relkinds!);
  }
}

async function relExists(db: Queryable, fq: string, relkinds: string): Promise<boolean> {
  const dot = fq.indexOf('.');
  const r = await db.query(
    `select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2 and c.relkind = any($3::"char"[])`,
    [fq.slice(0, dot), fq.slice(dot + 1), relkinds.split('')],
  );
  return r.rows.length > 0;
}

/** 'schema.f(2)': a function of that name taking 2 arguments (no count: none). */
async function functionExists(db: Queryable, spec: string): Promise<boolean> {
  const m = /^(.*?)\s*(?:\((\d+)\))?$/.exec(spec.trim())!;
  const fq = fqName(m[1]!);
  const dot = fq.indexOf('.');
  const r = await db.query(
    `select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      where n.nspname = $1 and p.proname = $2 and p.pronargs = $3`,
    [fq.slice(0, dot), fq.slice(dot + 1), Number(m[2] ?? 0)],
  );
  return r.rows.length > 0;
}
