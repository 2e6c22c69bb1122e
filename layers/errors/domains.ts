// One error class per domain, each a SkytoolsError with its own kinds. They live together here,
// not in their tools' folders, because the SQLSTATE mapper (mapper.ts) and the CLI's exit policy
// (exit.ts) need all of them, and pgq code must be able to raise a CascadeError for pgq_coop
// without importing layers/cascade. Each tool re-exports its own class (layers/pgq/errors.ts,
// layers/walmgr/errors.ts, layers/cascade/node.ts, layers/config/settings.ts, layers/storage).
import { SkytoolsError, type SkytoolsErrorOptions } from './base.ts';
import type { CascadeSqlKind, PgqSqlKind } from './sqlstates.ts';

export type PgqErrorKind =
  | PgqSqlKind
  /** A consumer's handler returned without tagging every event. */
  | 'untagged_events'
  /** A qadmin statement that does not parse or cannot run as given. */
  | 'invalid_statement'
  /** PgQ is not installed in the database. */
  | 'not_installed'
  /** A P0001 from the C extension (its errors carry no SQLSTATE of their own). */
  | 'unknown';

export class PgqError extends SkytoolsError<PgqErrorKind> {
  override name = 'PgqError';
  readonly domain = 'pgq';
}

export type CascadeErrorKind =
  | CascadeSqlKind
  /** Bad command line or config: a missing name, too many arguments, an unknown command. */
  | 'usage'
  /** A node, consumer or provider that is not (or no longer) part of the cascade. */
  | 'unknown_node'
  /** The cascade is not in a state that allows the operation (dead node, loop, concurrent change). */
  | 'node_state'
  /** A cascade event or tick the worker cannot apply. */
  | 'protocol'
  /** Workers did not catch up within the wait limit. */
  | 'timeout'
  /** A pgq_node admin function answered with a ret_code of 300 or more. */
  | 'refused'
  /** A node's database cannot be reached. */
  | 'unreachable'
  /** A P0001 from the packaged pgq_node. */
  | 'unknown';

export class CascadeError extends SkytoolsError<CascadeErrorKind> {
  override name = 'CascadeError';
  readonly domain = 'cascade';
}

/** Londiste's kinds (table replication). */
export type LondisteErrorKind =
  /** Bad command line, config, table name or handler argument. */
  | 'usage'
  /** A table, sequence or handler that is not registered / does not exist where it must. */
  | 'not_found'
  /** Event data the replay cannot decode (a malformed urlencoded row, an unparsable SQL event). */
  | 'bad_event'
  /** The subscriber table cannot take the change: a missing column or key, a type mismatch. */
  | 'apply_failed'
  /** The table copy failed (structure, COPY, index rebuild). */
  | 'copy_failed'
  /** A londiste.* function answered with a ret_code of 300 or more. */
  | 'refused'
  /** The set is not in a state that allows the operation. */
  | 'state'
  /** A wait (wait-sync, a copy handover) did not finish within its limit. */
  | 'timeout';

export class LondisteError extends SkytoolsError<LondisteErrorKind> {
  override name = 'LondisteError';
  readonly domain = 'londiste';
}

/** walmgr's kinds; the CLI's exit codes for PostgreSQL depend on them (exit.ts). */
export type WalErrorKind = 'not-found' | 'corrupt' | 'refused' | 'invalid' | 'io';

export class WalError extends SkytoolsError<WalErrorKind> {
  override name = 'WalError';
  readonly domain = 'wal';
}

/** `busy`: a configured resource (a pidfile) is held by another live process. */
export type ConfigErrorKind = 'invalid' | 'missing' | 'unreadable' | 'busy';

/**
 * Bad settings, config files or connect strings. Message first (kind defaults to 'invalid'),
 * because the settings code raises it with just a message naming the source.
 */
export class ConfigError extends SkytoolsError<ConfigErrorKind> {
  override name = 'ConfigError';
  readonly domain = 'config';
  constructor(message: string, opts: SkytoolsErrorOptions & { kind?: ConfigErrorKind } = {}) {
    super(opts.kind ?? 'invalid', message, opts);
  }
}

export type StorageErrorKind = 'invalid_key' | 'invalid_repository' | 'io';

export class StorageError extends SkytoolsError<StorageErrorKind> {
  override name = 'StorageError';
  readonly domain = 'storage';
  /** The object key the operation was about, when there is one. */
  readonly key: string | undefined;
  constructor(kind: StorageErrorKind, message: string, opts: SkytoolsErrorOptions & { key?: string } = {}) {
    super(kind, message, opts);
    this.key = opts.key;
  }
}

export type InstallErrorKind = 'sql_failed' | 'manifest';

export class InstallError extends SkytoolsError<InstallErrorKind> {
  override name = 'InstallError';
  readonly domain = 'install';
}
