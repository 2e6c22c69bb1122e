// Full-row events for the handlers that rebuild rows themselves (bulk, dispatch, obfuscate): a
// logutriga or jsontriga event's op, its whole row and its key columns. sqltriga's SQL fragments
// carry only the changed columns, so these handlers refuse them, as the original's do.
import type { PgqEvent } from '../../pgq/consumer.ts';
import { LondisteError } from '../errors.ts';
import { type ChangeOp, decodeEvent, type Row } from '../events.ts';

export interface FullRow {
  op: ChangeOp;
  row: Row;
  key: readonly string[];
}

export function fullRow(ev: PgqEvent, handler: string): FullRow {
  const type = ev.type ?? '';
  if (type.length === 1) {
    throw new LondisteError(
      'bad_event',
      `event ${ev.id} for table ${ev.extra1 ?? '?'}: handler ${handler} does not support SQL events (type ${type}); use logutriga or jsontriga`,
    );
  }
  const ch = decodeEvent(ev);
  if (ch.kind !== 'row' || ch.partial) {
    throw new LondisteError(
      'bad_event',
      `event ${ev.id} for table ${ev.extra1 ?? '?'}: handler ${handler} needs whole rows`,
    );
  }
  return { op: ch.op, row: ch.row, key: ch.key ?? [] };
}
