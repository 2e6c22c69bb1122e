// PgQ's errors: PgqError and its kinds live in the shared error scheme (layers/errors/), so the
// SQLSTATE table there is the only place a code is given a meaning. SQL errors of our schema are
// mapped by code, never by message text; against the C extension (plain P0001) the message is
// kept and the kind is 'unknown'.
import { asSkytoolsError } from '../errors/mapper.ts';

export { PgqError, type PgqErrorKind } from '../errors/domains.ts';

/**
 * Wraps a pg error into a PgqError (or a CascadeError for pgq_coop / pgq_node codes) when it is
 * one of ours or a P0001; returns other errors unchanged.
 */
export function asPgqError(err: unknown, context?: string): unknown {
  return asSkytoolsError(err, context === undefined ? {} : { context });
}
