// The initial copy for handlers that change rows on the way (dispatch's field map, obfuscate):
// the provider's rows read as text through a cursor in the copy job's snapshot, chunk by chunk
// (memory bounded for any table size), changed in JS, and written with one INSERT … SELECT FROM
// json_to_recordset per chunk, each value cast to its column's type as the replay does. Slower
// than the COPY pipe (copy/pipe.ts), which stays the copy of every handler that keeps rows as
// they are.
import { quoteFqname, quoteIdent } from '../../db/ident.ts';
import { readShape } from '../apply/shape.ts';
import { LondisteError } from '../errors.ts';
import type { Row } from '../events.ts';
import type { CopyContext, CopyStats } from '../handler.ts';

export interface CopyRowsOptions {
  srcTable: string;
  /** Provider columns to read. */
  srcColumns: readonly string[];
  dstTable: string;
  /** Provider row (column → text) → the destination row (column → text), or null to skip it. */
  transform: (row: Row) => Row | null;
  condition?: string;
  chunkRows?: number;
}

export async function copyRows(
  ctx: Pick<CopyContext, 'provider' | 'local' | 'log'>,
  o: CopyRowsOptions,
): Promise<CopyStats> {
  if (o.srcColumns.length === 0)
    throw new LondisteError('copy_failed', `copy of ${o.srcTable}: no columns to copy`);
  const shape = await readShape(ctx.local, o.dstTable);
  const chunk = o.chunkRows ?? 5000;
  // Text output that reads back the same on the subscriber, as the COPY pipe sets it.
  await ctx.provider.query(
    `select set_config('datestyle', 'ISO', true), set_config('intervalstyle', 'postgres', true),
            set_config('extra_float_digits', '3', true)`,
  );
  const sel = o.srcColumns.map((c) => `${quoteIdent(c)}::text as ${quoteIdent(c)}`).join(', ');
  await ctx.provider.query(
    `declare londiste_copy_rows no scroll cursor for select ${sel} from only ${quoteFqname(o.srcTable)}${
      o.condition ? ` where ${o.condition}` : ''
    }`,
  );
  let rows = 0;
  let bytes = 0;
  try {
    for (;;) {
      const r = await ctx.provider.query<Row>(`fetch ${chunk} from londiste_copy_rows`);
      if (r.rows.length === 0) break;
      const out: Row[] = [];
      for (const row of r.rows) {
        const t = o.transform(row);
        if (t) out.push(t);
      }
      if (out.length === 0) continue;
      const cols = [...new Set(out.flatMap((x) => Object.keys(x)))];
      const casts = cols.map((c) => {
        const col = shape.columns.get(c);
        if (!col)
          throw new LondisteError('copy_failed', `copy into ${o.dstTable}: no column ${c} on this node`);
        return `s.${quoteIdent(c)}::${col.type}`;
      });
      const json = JSON.stringify(out);
      bytes += json.length;
      await ctx.local.query(
        `insert into ${shape.quoted} (${cols.map(quoteIdent).join(', ')})
         select ${casts.join(', ')} from json_to_recordset($1::json) as s(${cols.map((c) => `${quoteIdent(c)} text`).join(', ')})`,
        [json],
      );
      rows += out.length;
    }
  } finally {
    await ctx.provider.query('close londiste_copy_rows').catch(() => {});
  }
  ctx.log.info('rows copied through the handler', { table: o.dstTable, rows });
  return { rows, bytes };
}
