// Which columns a copy carries: those both tables have (in the provider's order), as the original
// does; columns on one side only are reported so the caller can log them as warnings. Also
// whether the binary COPY format is safe between the two (identical built-in types).
import type { Queryable } from '../../db/index.ts';
import { quoteFqname } from '../../db/index.ts';
import { LondisteError } from '../errors.ts';

export interface TableColumn {
  name: string;
  /** format_type(atttypid, atttypmod), e.g. "character varying(20)", "integer[]". */
  type: string;
  typeOid: number;
  /** A generated (stored) column: COPY FROM cannot write it. */
  generated: boolean;
}

export interface ColumnMatch {
  /** Columns to copy: on both sides and writable on the subscriber, in provider order. */
  common: string[];
  /** Provider columns the subscriber table lacks. */
  missingOnSubscriber: string[];
  /** Subscriber columns the provider table lacks (they get their defaults). */
  missingOnProvider: string[];
  /** Columns on both sides that are generated on the subscriber (it computes them itself). */
  generatedOnSubscriber: string[];
  /**
   * Every common column has the same built-in type (name, modifier and OID) on both sides, so
   * COPY's binary format carries the values unchanged. Types of one's own (enums, composites,
   * extension types) have database-specific OIDs, which binary arrays and records embed.
   */
  binaryCompatible: boolean;
}

// FirstNormalObjectId: OIDs below it are the built-in catalog's, equal in every database.
const FIRST_NORMAL_OID = 16384;

/** The table's live columns in attnum order. */
export async function readColumns(client: Queryable, table: string): Promise<TableColumn[]> {
  const r = await client.query<{ name: string; type: string; type_oid: number; generated: boolean }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.atttypid as type_oid,
            a.attgenerated <> '' as generated
       from pg_attribute a
      where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped
      order by a.attnum`,
    [quoteFqname(table)],
  );
  if (r.rows.length === 0) {
    const exists = await client.query('select to_regclass($1) is not null as found', [quoteFqname(table)]);
    if (!exists.rows[0]?.found) throw new LondisteError('not_found', `table ${table} does not exist`);
  }
  return r.rows.map((c) => ({
    name: c.name,
    type: c.type,
    typeOid: Number(c.type_oid),
    generated: c.generated,
  }));
}

export function matchColumns(
  provider: readonly TableColumn[],
  subscriber: readonly TableColumn[],
): ColumnMatch {
  const sub = new Map(subscriber.map((c) => [c.name, c]));
  const prov = new Set(provider.map((c) => c.name));
  const common: string[] = [];
  const missingOnSubscriber: string[] = [];
  const generatedOnSubscriber: string[] = [];
  let binaryCompatible = true;
  for (const p of provider) {
    const s = sub.get(p.name);
    if (!s) {
      missingOnSubscriber.push(p.name);
    } else if (s.generated) {
      generatedOnSubscriber.push(p.name);
    } else {
      common.push(p.name);
      if (p.type !== s.type || p.typeOid !== s.typeOid || p.typeOid >= FIRST_NORMAL_OID)
        binaryCompatible = false;
    }
  }
  const missingOnProvider = subscriber.filter((c) => !prov.has(c.name)).map((c) => c.name);
  return {
    common,
    missingOnSubscriber,
    missingOnProvider,
    generatedOnSubscriber,
    binaryCompatible: binaryCompatible && common.length > 0,
  };
}

/** Reads both tables' columns and matches them. */
export async function commonColumns(
  src: Queryable,
  srcTable: string,
  dst: Queryable,
  dstTable: string,
): Promise<ColumnMatch> {
  const [p, s] = await Promise.all([readColumns(src, srcTable), readColumns(dst, dstTable)]);
  return matchColumns(p, s);
}
