// Typed errors of the PgQ runtime. SQL errors raised by our schema carry SQLSTATEs PQ001..PQ010
// (sql/README.md); we map by code, never by message text. Against the C extension (plain
// P0001 errors) the message is kept and the kind is 'unknown'.

export type PgqErrorKind =
  | 'unknown_queue'
  | 'not_subscribed'
  | 'unknown_batch'
  | 'insert_disabled'
  | 'tx_limit'
  | 'invalid_argument'
  | 'queue_in_use'
  | 'ticker_not_allowed'
  | 'corrupt_state'
  | 'c_extension_present'
  | 'untagged_events'
  | 'config'
  | 'unknown';

const BY_SQLSTATE: Record<string, PgqErrorKind> = {
  PQ001: 'unknown_queue',
  PQ002: 'not_subscribed',
  PQ003: 'unknown_batch',
  PQ004: 'insert_disabled',
  PQ005: 'tx_limit',
  PQ006: 'invalid_argument',
  PQ007: 'queue_in_use',
  PQ008: 'ticker_not_allowed',
  PQ009: 'corrupt_state',
  PQ010: 'c_extension_present',
};

export class PgqError extends Error {
  override name = 'PgqError';
  readonly kind: PgqErrorKind;
  readonly sqlState?: string;

  constructor(kind: PgqErrorKind, message: string, options?: { cause?: unknown; sqlState?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.sqlState = options?.sqlState;
  }
}

/** Wraps a pg error into a PgqError when it is one of ours; returns other errors unchanged. */
export function asPgqError(err: unknown, context?: string): unknown {
  const e = err as { code?: string; message?: string };
  if (e && typeof e.code === 'string' && e.code in BY_SQLSTATE) {
    const msg = context ? `${context}: ${e.message}` : (e.message ?? 'PgQ error');
    return new PgqError(BY_SQLSTATE[e.code]!, msg, { cause: err, sqlState: e.code });
  }
  return err;
}
