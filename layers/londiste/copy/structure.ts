// A subscriber table's structure that the copy drops before the load and rebuilds after it (what
// the original drops: constraints, indexes, rules, inheritance parent — skytools' dbstruct
// T_CONSTRAINT | T_INDEX | T_RULE | T_PARENT), read from the catalog with each object's exact
// re-create SQL (pg_get_constraintdef, pg_get_indexdef, pg_get_ruledef). Loading into a bare heap
// and building each index once afterwards is what makes the copy as fast as a raw COPY pipe.
//
// Not dropped: foreign keys (the worker parks them in londiste.pending_fkeys and restores them
// when the table and its referenced tables are in sync), triggers (the original keeps them too:
// londiste's own are disabled by session_replication_role = replica), NOT NULL, defaults.
// Partitions keep what they inherit from their partitioned parent (an attached index or an
// inherited constraint cannot be dropped on its own) and stay attached; a partitioned table itself
// is refused: its rows live in its partitions, which are replicated as tables of their own.
import type { Queryable } from '../../db/index.ts';
import { quoteFqname, quoteIdent } from '../../db/index.ts';
import { LondisteError } from '../errors.ts';
import { joinDdl } from './ddl-text.ts';

export type StructureKind = 'constraint' | 'index' | 'rule' | 'parent';

export interface StructureObject {
  kind: StructureKind;
  /** The object's name (for a parent: the parent table's "schema.name"). */
  name: string;
  /** pg_constraint.contype for constraints: p(rimary key), u(nique), c(heck), x (exclusion). */
  contype?: 'p' | 'u' | 'c' | 'x';
  /** The catalog's own definition (pg_get_constraintdef / pg_get_indexdef / pg_get_ruledef). */
  definition: string;
  /** Statements that re-create it as it was (definition, CLUSTER ON, REPLICA IDENTITY, comment). */
  create: string[];
  drop: string;
}

export interface TableStructure {
  /** The table as given ("schema.name"). */
  table: string;
  /** In creation order: constraints, indexes, rules, parents (dropping goes in reverse). */
  objects: StructureObject[];
}

interface TableRow {
  oid: number;
  relkind: string;
  relispartition: boolean;
  nspname: string;
  relname: string;
}

const KIND_ORDER: StructureKind[] = ['constraint', 'index', 'rule', 'parent'];

/** Reads the droppable structure of `table` ("schema.name", no schema = public). */
export async function readStructure(client: Queryable, table: string): Promise<TableStructure> {
  const rel = await findTable(client, table);
  if (rel.relkind === 'p') {
    throw new LondisteError(
      'copy_failed',
      `table ${table} is partitioned: its rows live in its partitions, whose indexes and constraints ` +
        'cannot be dropped one table at a time; replicate the partitions as tables instead',
    );
  }
  if (rel.relkind !== 'r') {
    throw new LondisteError(
      'copy_failed',
      `${table} is not a plain table (relkind ${rel.relkind}): cannot copy into it`,
    );
  }
  const qt = `${quoteIdent(rel.nspname)}.${quoteIdent(rel.relname)}`;
  const inherited = rel.relispartition;
  // One after another: pg allows one query at a time per connection.
  const cons = await client.query<{
    conname: string;
    contype: 'p' | 'u' | 'c' | 'x';
    def: string;
    clustered: boolean;
    replident: boolean;
    comment: string | null;
    options: string | null;
    tablespace: string | null;
    indexdef: string | null;
    indexname: string | null;
    deferrable: boolean;
    deferred: boolean;
  }>(
    `select con.conname, con.contype, pg_get_constraintdef(con.oid) as def,
              coalesce(i.indisclustered, false) as clustered, coalesce(i.indisreplident, false) as replident,
              obj_description(con.oid, 'pg_constraint') as comment,
              array_to_string(ic.reloptions, ', ') as options, ts.spcname as tablespace,
              pg_get_indexdef(i.indexrelid) as indexdef, ic.relname as indexname,
              con.condeferrable as deferrable, con.condeferred as deferred
         from pg_constraint con
         left join pg_index i on i.indexrelid = con.conindid and con.contype in ('p', 'u', 'x')
         left join pg_class ic on ic.oid = i.indexrelid
         left join pg_tablespace ts on ts.oid = ic.reltablespace
        where con.conrelid = $1 and con.contype in ('p', 'u', 'c', 'x')
          and not ($2 and (con.coninhcount > 0 or con.conparentid <> 0))
        order by con.oid`,
    [rel.oid, inherited],
  );
  const idx = await client.query<{
    relname: string;
    def: string;
    clustered: boolean;
    replident: boolean;
    comment: string | null;
    tablespace: string | null;
    predicate: string | null;
  }>(
    `select ic.relname, pg_get_indexdef(i.indexrelid) as def, i.indisclustered as clustered,
              i.indisreplident as replident, obj_description(i.indexrelid, 'pg_class') as comment,
              ts.spcname as tablespace, pg_get_expr(i.indpred, i.indrelid) as predicate
         from pg_index i join pg_class ic on ic.oid = i.indexrelid
         left join pg_tablespace ts on ts.oid = ic.reltablespace
        where i.indrelid = $1
          -- indexes that belong to a constraint come back with the constraint
          and not exists (select 1 from pg_depend d
                           where d.classid = 'pg_class'::regclass and d.objid = i.indexrelid and d.deptype = 'i')
          and not ($2 and exists (select 1 from pg_inherits h where h.inhrelid = i.indexrelid))
        order by i.indexrelid`,
    [rel.oid, inherited],
  );
  const rules = await client.query<{
    rulename: string;
    def: string;
    ev_enabled: string;
    comment: string | null;
  }>(
    `select r.rulename, pg_get_ruledef(r.oid) as def, r.ev_enabled, obj_description(r.oid, 'pg_rewrite') as comment
         from pg_rewrite r
        where r.ev_class = $1 and r.rulename <> '_RETURN'
        order by r.oid`,
    [rel.oid],
  );
  const parents = await client.query<{ nspname: string; relname: string }>(
    `select pn.nspname, p.relname
         from pg_inherits h join pg_class p on p.oid = h.inhparent join pg_namespace pn on pn.oid = p.relnamespace
        where h.inhrelid = $1 and not $2
        order by h.inhseqno`,
    [rel.oid, inherited],
  );

  const objects: StructureObject[] = [];
  for (const c of cons.rows) {
    const qn = quoteIdent(c.conname);
    // A primary key or unique constraint comes back in two steps: the index build (the slow
    // part) as a CREATE UNIQUE INDEX, which takes only a SHARE lock and so can run beside the
    // table's other index builds on other connections (rebuild.ts), then the constraint taking
    // the ready index (catalog only: the key columns kept their NOT NULL). pg_get_indexdef also
    // keeps the storage parameters that pg_get_constraintdef leaves out.
    const create =
      (c.contype === 'p' || c.contype === 'u') && c.indexdef && c.indexname
        ? [
            indexDef({ def: c.indexdef, tablespace: c.tablespace, predicate: null }) ?? c.indexdef,
            `ALTER TABLE ${qt} ADD CONSTRAINT ${qn} ${c.contype === 'p' ? 'PRIMARY KEY' : 'UNIQUE'} USING INDEX ${quoteIdent(c.indexname)}${c.deferrable ? ' DEFERRABLE' : ''}${c.deferred ? ' INITIALLY DEFERRED' : ''}`,
          ]
        : [`ALTER TABLE ${qt} ADD CONSTRAINT ${qn} ${c.def}`];
    // An exclusion constraint's definition has no place for them before its WHERE: set after.
    if (c.contype === 'x' && c.options)
      create.push(`ALTER INDEX ${qIndex(rel, c.conname)} SET (${c.options})`);
    if (c.contype === 'x' && c.tablespace) {
      create.push(`ALTER INDEX ${qIndex(rel, c.conname)} SET TABLESPACE ${quoteIdent(c.tablespace)}`);
    }
    if (c.clustered) create.push(`ALTER TABLE ONLY ${qt} CLUSTER ON ${qn}`);
    if (c.replident) create.push(`ALTER TABLE ONLY ${qt} REPLICA IDENTITY USING INDEX ${qn}`);
    if (c.comment != null) create.push(`COMMENT ON CONSTRAINT ${qn} ON ${qt} IS ${quoteLiteral(c.comment)}`);
    objects.push({
      kind: 'constraint',
      name: c.conname,
      contype: c.contype,
      definition: c.def,
      create,
      drop: `ALTER TABLE ONLY ${qt} DROP CONSTRAINT ${qn}`,
    });
  }
  for (const i of idx.rows) {
    const qn = qIndex(rel, i.relname);
    const def = indexDef(i);
    const create = [def ?? i.def];
    if (def == null) create.push(`ALTER INDEX ${qn} SET TABLESPACE ${quoteIdent(i.tablespace as string)}`);
    if (i.clustered) create.push(`ALTER TABLE ONLY ${qt} CLUSTER ON ${quoteIdent(i.relname)}`);
    if (i.replident)
      create.push(`ALTER TABLE ONLY ${qt} REPLICA IDENTITY USING INDEX ${quoteIdent(i.relname)}`);
    if (i.comment != null) create.push(`COMMENT ON INDEX ${qn} IS ${quoteLiteral(i.comment)}`);
    objects.push({ kind: 'index', name: i.relname, definition: i.def, create, drop: `DROP INDEX ${qn}` });
  }
  for (const r of rules.rows) {
    const qn = quoteIdent(r.rulename);
    // pg_get_ruledef ends with ';' — statements here carry none.
    const create = [r.def.replace(/;\s*$/, '')];
    const enable = ENABLE_RULE[r.ev_enabled];
    if (enable) create.push(`ALTER TABLE ${qt} ${enable} RULE ${qn}`);
    if (r.comment != null) create.push(`COMMENT ON RULE ${qn} ON ${qt} IS ${quoteLiteral(r.comment)}`);
    objects.push({
      kind: 'rule',
      name: r.rulename,
      definition: r.def,
      create,
      drop: `DROP RULE ${qn} ON ${qt}`,
    });
  }
  for (const p of parents.rows) {
    const qp = `${quoteIdent(p.nspname)}.${quoteIdent(p.relname)}`;
    objects.push({
      kind: 'parent',
      name: `${p.nspname}.${p.relname}`,
      definition: qp,
      create: [`ALTER TABLE ONLY ${qt} INHERIT ${qp}`],
      drop: `ALTER TABLE ONLY ${qt} NO INHERIT ${qp}`,
    });
  }
  objects.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  return { table, objects };
}

function qIndex(rel: TableRow, name: string): string {
  return `${quoteIdent(rel.nspname)}.${quoteIdent(name)}`;
}

/**
 * pg_get_indexdef leaves out the tablespace; it goes before a partial index's WHERE (null when
 * the predicate is not found where expected: the caller moves the index there afterwards).
 */
function indexDef(i: { def: string; tablespace: string | null; predicate: string | null }): string | null {
  if (!i.tablespace) return i.def;
  const where = i.predicate == null ? '' : ` WHERE (${i.predicate})`;
  if (!i.def.endsWith(where)) return null;
  return `${i.def.slice(0, i.def.length - where.length)} TABLESPACE ${quoteIdent(i.tablespace)}${where}`;
}

// pg_rewrite.ev_enabled: O (the default, origin and local) needs nothing.
const ENABLE_RULE: Record<string, string> = { R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS', D: 'DISABLE' };

/** The statements that re-create the structure, in order (constraints, indexes, rules, parents). */
export function createStatements(structure: TableStructure): string[] {
  return structure.objects.flatMap((o) => o.create);
}

/** The re-create SQL as one text, for londiste.table_info.dropped_ddl (null when nothing is dropped). */
export function structureDdl(structure: TableStructure): string | null {
  const statements = createStatements(structure);
  return statements.length ? joinDdl(statements) : null;
}

/** Drops the structure (reverse creation order: parents, rules, indexes, constraints). */
export async function dropStructure(client: Queryable, structure: TableStructure): Promise<void> {
  for (const o of [...structure.objects].reverse()) {
    await runOne(client, o.drop, structure.table);
  }
}

/** Re-creates the structure on one connection, in order. */
export async function createStructure(client: Queryable, structure: TableStructure): Promise<void> {
  for (const sql of createStatements(structure)) await runOne(client, sql, structure.table);
}

async function runOne(client: Queryable, sql: string, table: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (err) {
    throw new LondisteError('copy_failed', `table ${table}: ${(err as Error).message} (in: ${sql})`, {
      cause: err,
    });
  }
}

async function findTable(client: Queryable, table: string): Promise<TableRow> {
  const r = await client.query<TableRow>(
    `select c.oid, c.relkind, c.relispartition, n.nspname, c.relname
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.oid = to_regclass($1)`,
    [quoteFqname(table)],
  );
  const row = r.rows[0];
  if (!row) throw new LondisteError('not_found', `table ${table} does not exist`);
  return row;
}

/** A string literal as PostgreSQL's quote_literal() writes it (E'…' when it holds a backslash). */
export function quoteLiteral(value: string): string {
  const q = `'${value.replaceAll("'", "''")}'`;
  return value.includes('\\') ? `E${q.replaceAll('\\', '\\\\')}` : q;
}
