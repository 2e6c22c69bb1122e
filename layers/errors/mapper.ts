// Turns a pg error raised by our SQL (a SQLSTATE of sqlstates.ts) into the domain error of the
// module that raised it: pgq → PgqError, pgq_node / pgq_coop → CascadeError. Against the
// original C extension / packaged pgq_node, errors are plain P0001: the message is kept and the
// kind is 'unknown', in the domain the caller names. Anything else is returned unchanged.
import { SkytoolsError } from './base.ts';
import { CascadeError, PgqError } from './domains.ts';
import { isSqlState, SQLSTATES } from './sqlstates.ts';

/** PL/pgSQL's `raise exception` without an errcode: what the original's functions raise. */
const RAISE_EXCEPTION = 'P0001';

export function asSkytoolsError(
  err: unknown,
  opts: { context?: string; domain?: 'pgq' | 'cascade' } = {},
): unknown {
  if (err instanceof SkytoolsError) return err;
  const e = err as { code?: unknown; message?: string } | null;
  if (!e || typeof e !== 'object') return err;
  const message = opts.context ? `${opts.context}: ${e.message}` : (e.message ?? 'database error');
  if (isSqlState(e.code)) {
    const spec = SQLSTATES[e.code];
    const o = { cause: err, sqlState: e.code };
    // The table's module decides the class; its kinds are the class's SQL kinds by construction.
    return spec.module === 'pgq'
      ? new PgqError(spec.kind as PgqError['kind'], message, o)
      : new CascadeError(spec.kind as CascadeError['kind'], message, o);
  }
  if (e.code === RAISE_EXCEPTION) {
    const o = { cause: err, sqlState: RAISE_EXCEPTION };
    return opts.domain === 'cascade'
      ? new CascadeError('unknown', message, o)
      : new PgqError('unknown', message, o);
  }
  return err;
}
