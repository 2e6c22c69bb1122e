// What every Londiste admin module works with: the cascade admin's session (connections, node
// info, waits) and the [londiste] settings the setup commands read.
import type { AdminSession } from '../cascade/admin-session.ts';
import type { Queryable } from '../db/transaction.ts';

export interface LondisteAdminConfig {
  /** create-branch/leaf, add-table, add-seq: which of the provider's objects are registered here. */
  registerOnlyTables: readonly string[];
  registerSkipTables: readonly string[];
  registerOnlySeqs: readonly string[];
  registerSkipSeqs: readonly string[];
  /** statement_timeout of the setup transactions (ms; 0: none), the original's lock_timeout. */
  lockTimeoutMs: number;
}

export const DEFAULT_ADMIN_CONFIG: LondisteAdminConfig = {
  registerOnlyTables: [],
  registerSkipTables: [],
  registerOnlySeqs: [],
  registerSkipSeqs: [],
  lockTimeoutMs: 10_000,
};

export interface LondisteContext {
  s: AdminSession;
  cfg: LondisteAdminConfig;
}

/** Whether a provider's object is registered here (register_only_* / register_skip_*). */
export function registers(only: readonly string[], skip: readonly string[], name: string): boolean {
  if (only.length && !only.includes(name)) return false;
  return !skip.includes(name);
}

/** Bounds lock waits of the current transaction, as the original's set_lock_timeout. */
export async function setLockTimeout(db: Queryable, ms: number): Promise<void> {
  if (ms > 0) await db.query(`set local statement_timeout = ${Math.round(ms)}`);
}

/**
 * Runs `add` (registering on this node what its provider has) inside a savepoint, and takes a
 * unique violation as done: this node's worker, replaying the provider's own add event, may
 * insert the same row meanwhile (seen in CI: `add-seq` on a leaf failed with a duplicate key
 * in londiste.seq_info while the worker applied the root's add-seq event).
 */
export async function addUnlessWorkerDid(db: Queryable, add: () => Promise<unknown>): Promise<void> {
  await db.query('savepoint skytools_sync_list');
  try {
    await add();
    await db.query('release savepoint skytools_sync_list');
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    await db.query('rollback to savepoint skytools_sync_list');
  }
}
