// Typed errors of walmgr. `exitCode` is what the CLI exits with, chosen for PostgreSQL:
// restore_command exit 1 means "not in the archive" (end of recovery from archive), while an
// exit status above 125 makes the startup process stop with FATAL instead of promoting early.
export type WalErrorKind = 'not-found' | 'corrupt' | 'refused' | 'invalid' | 'io';

export const EXIT = {
  ok: 0,
  error: 1,
  notFound: 1,
  refused: 3,
  /** > 125: PostgreSQL aborts recovery rather than treating the segment as missing. */
  restoreFatal: 126,
} as const;

export class WalError extends Error {
  readonly kind: WalErrorKind;
  constructor(kind: WalErrorKind, message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'WalError';
    this.kind = kind;
  }
}
