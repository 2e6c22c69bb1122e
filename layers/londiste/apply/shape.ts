// The shape of a destination table as the set-based apply needs it: its columns with the type to
// cast each text value to, and its primary key. Read from the catalog once per table and cached;
// invalidate(table) after DDL (EXECUTE, a failed apply) reads it again on next use.
import type pg from 'pg';
import { quoteFqname } from '../../db/ident.ts';
import { LondisteError } from '../errors.ts';

export interface ColumnShape {
  name: string;
  /**
   * The type without its typmod, as `schema.typname` (`pg_catalog.bpchar`, `pg_catalog._int4`): a
   * value is cast to the bare type and the column's typmod is applied on assignment, so
   * `varchar(3)` refuses a longer value as a literal would, instead of the explicit cast's silent
   * truncation. (format_type's `character` or `bit` would mean char(1) / bit(1) in a cast.)
   */
  type: string;
  notNull: boolean;
  /** A generated column (cannot be written). */
  generated: boolean;
}

export interface TableShape {
  /** The table as given (schema.table, unquoted). */
  table: string;
  /** Quoted, schema-qualified, for SQL text. */
  quoted: string;
  oid: number;
  columns: Map<string, ColumnShape>;
  /** Primary key columns in index order; empty when there is none. */
  pkey: string[];
  /**
   * Inserts may go in by COPY: a plain table with no rules (COPY ignores them), no row-level
   * security and no user trigger that fires during replay (enabled REPLICA or ALWAYS; replay runs
   * with session_replication_role = replica, so a leaf's deny trigger does not count) — where
   * COPY of new keys and the upsert are the same writes.
   */
  copyable: boolean;
  /**
   * The table has rules: PostgreSQL refuses INSERT … ON CONFLICT on it (0A000), so the upsert is
   * an UPDATE of the keys that exist, then an INSERT of the others (each rewritten by the rules).
   */
  hasRules: boolean;
}

export class ShapeCache {
  private readonly shapes = new Map<string, TableShape>();

  async get(client: pg.ClientBase, table: string): Promise<TableShape> {
    const hit = this.shapes.get(table);
    if (hit) return hit;
    const shape = await readShape(client, table);
    this.shapes.set(table, shape);
    return shape;
  }

  /** The cached shape, without reading it. */
  peek(table: string): TableShape | undefined {
    return this.shapes.get(table);
  }

  /** Forget one table's shape (or all). */
  invalidate(table?: string): void {
    if (table === undefined) this.shapes.clear();
    else this.shapes.delete(table);
  }
}

export async function readShape(client: pg.ClientBase, table: string): Promise<TableShape> {
  const quoted = quoteFqname(table);
  const rel = await client.query<{ oid: number; copyable: boolean | null; has_rules: boolean | null }>(
    `select c.oid, c.relhasrules as has_rules, c.relkind = 'r' and not c.relhasrules and not c.relrowsecurity
            and not exists (select 1 from pg_catalog.pg_trigger g
                             where g.tgrelid = c.oid and not g.tgisinternal and g.tgenabled in ('R', 'A')) as copyable
       from (select to_regclass($1) as r) x left join pg_catalog.pg_class c on c.oid = x.r`,
    [quoted],
  );
  const oid = rel.rows[0]?.oid;
  if (oid == null) {
    throw new LondisteError('apply_failed', `table ${table}: does not exist on this node`, {
      sqlState: '42P01',
    });
  }
  const cols = await client.query<{ name: string; type: string; notnull: boolean; generated: boolean }>(
    `select a.attname as name, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) as type,
            a.attnotnull as notnull, a.attgenerated <> '' as generated
       from pg_catalog.pg_attribute a
       join pg_catalog.pg_type t on t.oid = a.atttypid
       join pg_catalog.pg_namespace n on n.oid = t.typnamespace
      where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
      order by a.attnum`,
    [oid],
  );
  const pk = await client.query<{ name: string }>(
    `select a.attname as name
       from pg_catalog.pg_index i
       cross join lateral unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
       join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = $1 and i.indisprimary
      order by k.ord`,
    [oid],
  );
  const columns = new Map<string, ColumnShape>();
  for (const c of cols.rows) {
    columns.set(c.name, { name: c.name, type: c.type, notNull: c.notnull, generated: c.generated });
  }
  return {
    table,
    quoted,
    oid,
    columns,
    pkey: pk.rows.map((r) => r.name),
    copyable: rel.rows[0]?.copyable === true,
    hasRules: rel.rows[0]?.has_rules === true,
  };
}
