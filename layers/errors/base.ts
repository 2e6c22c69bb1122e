// The common base of every error skytools throws on purpose: a domain (which tool or mechanism),
// a kind (what went wrong, stable for code and exit codes), the original error as `cause`, and the
// SQLSTATE when the error came from our SQL. Callers branch on `domain`/`kind`, never on messages.

export type ErrorDomain = 'pgq' | 'cascade' | 'londiste' | 'wal' | 'config' | 'storage' | 'install';

export interface SkytoolsErrorOptions {
  cause?: unknown;
  /** The SQLSTATE of the pg error this one wraps (ours, or P0001 from the C extension). */
  sqlState?: string;
}

export abstract class SkytoolsError<K extends string = string> extends Error {
  abstract readonly domain: ErrorDomain;
  readonly kind: K;
  readonly sqlState?: string;

  constructor(kind: K, message: string, opts: SkytoolsErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    if (opts.sqlState !== undefined) this.sqlState = opts.sqlState;
  }
}

export function isSkytoolsError(err: unknown): err is SkytoolsError {
  return err instanceof SkytoolsError;
}
