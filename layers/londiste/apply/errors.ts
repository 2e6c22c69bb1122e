// Which apply errors are the table's fault. A change the destination table cannot take (a missing
// column, no unique key for the upsert, a bad value, a NOT NULL or check violation, a missing
// table, no permission) is a LondisteError('apply_failed') naming the table and, where the server
// says, the column, with the pg error as cause and its SQLSTATE: the worker isolates that table.
// Anything else — a lost connection, a serialization failure, a cancel — passes through unchanged,
// for the worker's retry.
import { isConnectionFailure } from '../../db/connection.ts';
import { LondisteError } from '../errors.ts';

interface PgErrorLike {
  code?: string;
  message?: string;
  column?: string;
  constraint?: string;
  detail?: string;
}

// SQLSTATE classes caused by data or definitions: 22 data exception, 23 integrity constraint,
// 42 syntax error or access rule (undefined column/table, no matching ON CONFLICT index, …),
// 44 WITH CHECK OPTION, 0A feature not supported (e.g. writing a generated column's parent).
const TABLE_CLASSES = new Set(['22', '23', '42', '44', '0A']);

/** True for the errors that make the set-based form fall back to one statement per event. */
export function isSetConflict(err: unknown): boolean {
  const code = (err as PgErrorLike | null)?.code;
  // 23505: a unique value moved between rows in one statement (row order would not collide);
  // 21000: one statement touching the same row twice (two keys equal after the cast, e.g. '1'
  // and '01' for an integer).
  return code === '23505' || code === '21000';
}

export function isTableError(err: unknown): boolean {
  if (isConnectionFailure(err)) return false;
  const code = (err as PgErrorLike | null)?.code;
  return typeof code === 'string' && TABLE_CLASSES.has(code.slice(0, 2));
}

/** The pg error as apply_failed for `table` when it is the table's fault, else unchanged. */
export function asApplyError(err: unknown, table: string, evId?: bigint): unknown {
  if (err instanceof LondisteError || !isTableError(err)) return err;
  const e = err as PgErrorLike;
  const column = e.column ?? /column "([^"]+)"/.exec(e.message ?? '')?.[1];
  const parts = [`table ${table}`];
  if (column) parts.push(`column ${column}`);
  if (evId !== undefined) parts.push(`event ${evId}`);
  return new LondisteError(
    'apply_failed',
    `${parts.join(', ')}: ${e.message ?? String(err)} (SQLSTATE ${e.code})` +
      (e.detail ? `: ${e.detail}` : ''),
    { cause: err, ...(e.code ? { sqlState: e.code } : {}) },
  );
}
