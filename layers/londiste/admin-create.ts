// add-table --create / --create-full and add-seq --create: a table or sequence made on this node
// from the provider's catalog (what the original does with skytools.TableStruct / SeqStruct).
// --create: the columns (type, not null) and the primary key, enough for replay and copy.
// --create-full: also the column defaults with the sequences they own (serial), the check /
// unique / exclusion constraints and the other indexes. Not made: foreign keys (the copy restores
// them around the load, pending_fkeys), triggers, rules, grants and the owner — they name objects
// and roles this node may not have.

import { quoteIdent } from '../db/ident.ts';
import type { Queryable } from '../db/transaction.ts';
import { LondisteError } from './errors.ts';

/** 's.t' → '"s"."t"' as PostgreSQL quotes it (the name is already schema-qualified). */
export function quoteFq(fq: string): string {
  const dot = fq.indexOf('.');
  return `${quoteIdent(fq.slice(0, dot))}.${quoteIdent(fq.slice(dot + 1))}`;
}

function splitFq(fq: string): [string, string] {
  const dot = fq.indexOf('.');
  return [fq.slice(0, dot), fq.slice(dot + 1)];
}

export async function relationExists(db: Queryable, fq: string, kinds: string): Promise<boolean> {
  const [schema, name] = splitFq(fq);
  const r = await db.query(
    `select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2 and c.relkind = any($3::"char"[])`,
    [schema, name, kinds.split('')],
  );
  return r.rows.length > 0;
}

/** A table (plain or partitioned) of that exact name exists. */
export const tableExists = (db: Queryable, fq: string) => relationExists(db, fq, 'rp');
export const sequenceExists = (db: Queryable, fq: string) => relationExists(db, fq, 'S');

async function relOid(db: Queryable, fq: string): Promise<number> {
  const [schema, name] = splitFq(fq);
  const r = await db.query(
    `select c.oid::int8 as oid from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2`,
    [schema, name],
  );
  if (!r.rows.length) throw new LondisteError('not_found', `${fq} does not exist on the provider`);
  return Number(r.rows[0].oid);
}

/** The statements that create `dest` on another node like `src` is on the provider. */
export async function tableDdl(
  provider: Queryable,
  src: string,
  dest: string,
  full: boolean,
): Promise<string[]> {
  const oid = await relOid(provider, src);
  const qdest = quoteFq(dest);
  const cols = await provider.query(
    `select a.attname, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull,
            pg_get_expr(d.adbin, d.adrelid) as def, pg_get_serial_sequence($2, a.attname) as seq
       from pg_catalog.pg_attribute a
       left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
      order by a.attnum`,
    [oid, quoteFq(src)],
  );
  if (!cols.rows.length) throw new LondisteError('copy_failed', `${src} has no columns on the provider`);
  const out: string[] = [`create schema if not exists ${quoteIdent(splitFq(dest)[0])}`];
  if (full) {
    // A serial's sequence must exist before the default that calls it.
    for (const c of cols.rows) {
      if (c.seq) out.push(...(await sequenceDdl(provider, unquoteFq(c.seq as string), null)));
    }
  }
  const colDefs = cols.rows.map(
    (c) => `${quoteIdent(c.attname)} ${c.type}${c.attnotnull ? ' not null' : ''}`,
  );
  out.push(`create table ${qdest} (\n    ${colDefs.join(',\n    ')}\n)`);
  if (full) {
    for (const c of cols.rows) {
      if (c.def != null)
        out.push(`alter table only ${qdest} alter column ${quoteIdent(c.attname)} set default ${c.def}`);
    }
  }
  const cons = await provider.query(
    `select conname, contype, pg_get_constraintdef(oid) as def from pg_catalog.pg_constraint
      where conrelid = $1 and contype in ('p', 'u', 'c', 'x') order by contype <> 'p', conname`,
    [oid],
  );
  for (const c of cons.rows) {
    if (c.contype !== 'p' && !full) continue;
    out.push(`alter table only ${qdest} add constraint ${quoteIdent(c.conname)} ${c.def}`);
  }
  if (full) {
    const idx = await provider.query(
      `select pg_get_indexdef(i.indexrelid) as def from pg_catalog.pg_index i
        where i.indrelid = $1
          and not exists (select 1 from pg_catalog.pg_constraint c where c.conindid = i.indexrelid and c.conrelid = i.indrelid)
        order by i.indexrelid`,
      [oid],
    );
    const on = new RegExp(` ON (ONLY )?${escapeRx(quoteFq(src))} USING `);
    for (const r of idx.rows) {
      const def = String(r.def);
      if (!on.test(def)) throw new LondisteError('copy_failed', `cannot rename the index of ${src}: ${def}`);
      out.push(def.replace(on, (_m, only?: string) => ` ON ${only ?? ''}${qdest} USING `));
    }
  }
  return out;
}

/** The statements that create sequence `fq` (named `dest`, default the same) like the provider's. */
export async function sequenceDdl(provider: Queryable, fq: string, dest: string | null): Promise<string[]> {
  const [schema, name] = splitFq(fq);
  const r = await provider.query(
    `select s.seqtypid::regtype::text as type, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
       from pg_catalog.pg_sequence s join pg_catalog.pg_class c on c.oid = s.seqrelid
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2`,
    [schema, name],
  );
  if (!r.rows.length)
    throw new LondisteError('not_found', `sequence ${schema}.${name} does not exist on the provider`);
  const s = r.rows[0];
  const target = quoteFq(dest ?? `${schema}.${name}`);
  return [
    `create schema if not exists ${quoteIdent(splitFq(dest ?? `${schema}.${name}`)[0])}`,
    `create sequence if not exists ${target} as ${s.type} increment by ${s.seqincrement} minvalue ${s.seqmin}` +
      ` maxvalue ${s.seqmax} start with ${s.seqstart} cache ${s.seqcache}${s.seqcycle ? ' cycle' : ' no cycle'}`,
  ];
}

/** '"S"."x"' or 's.x' (pg_get_serial_sequence's quoting) → 'S.x'. */
function unquoteFq(q: string): string {
  const parts: string[] = [];
  const rx = /"((?:[^"]|"")*)"|([^."]+)/g;
  for (let m = rx.exec(q); m; m = rx.exec(q))
    parts.push(m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]!);
  return parts.join('.');
}

function escapeRx(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
