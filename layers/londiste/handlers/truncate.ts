// The TRUNCATE of a handler's destination, as the original's playback does it for every handler:
// flushed first, CASCADE (foreign keys pointing at the table must not stop it), or nothing with
// ignore_truncate=1.
import { quoteFqname } from '../../db/ident.ts';
import type { ApplyContext, TableHandler } from '../handler.ts';

export async function truncateDest(
  h: TableHandler,
  ctx: ApplyContext,
  ignore: boolean,
  table = h.destTable,
): Promise<void> {
  if (ignore) {
    ctx.log.info('ignoring truncate', { table });
    return;
  }
  await h.flush(ctx);
  await ctx.applier.settle();
  await ctx.local.query(`truncate ${quoteFqname(table)} cascade`);
}
