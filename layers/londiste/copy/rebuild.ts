// Running the re-create statements of a copied table (structure.ts, or the dropped_ddl text split
// back by ddl-text.ts) as fast as PostgreSQL builds indexes: a larger maintenance_work_mem for
// the session (a btree build sorts in memory, and PostgreSQL gives a build parallel workers only
// when each gets 32 MB of it), and optionally the CREATE INDEX statements — pk and unique indexes
// included, see structure.ts — on several connections at once (CREATE INDEX takes a SHARE lock,
// which does not conflict with itself). The other statements (constraints, rules, CLUSTER ON,
// comments, INHERIT) then run in order on the caller's connection.
//
// After a crash the same statements run again over a half-rebuilt table: with skipExisting an
// object that is already there (42P07 duplicate_table, 42710 duplicate_object, 55000 for a
// constraint whose index already has it) is skipped, so the
// rebuild resumes instead of failing. A CREATE INDEX cut short leaves nothing behind (it is
// transactional), so skipping what exists is enough.
import type pg from 'pg';
import type { Logger } from '../../util/log.ts';
import { LondisteError } from '../errors.ts';

export interface RebuildOptions {
  /** Table name for messages and logs. */
  table: string;
  /** maintenance_work_mem for the builds (e.g. '512MB'); the session's value is restored after. */
  maintenanceWorkMem?: string;
  /**
   * Run the CREATE INDEX statements on this many connections at once (default 1: all on the
   * caller's connection, in order, inside its transaction if it has one). More than 1 needs
   * `connect` and the loaded rows committed: the other connections must see them, and the
   * caller's connection must not hold a lock on the table.
   */
  parallel?: number;
  /** Opens one more connection to the subscriber (closed by rebuildStructure). */
  connect?: () => Promise<pg.Client>;
  /** Skip statements whose object already exists (resuming after a crash). */
  skipExisting?: boolean;
  logger?: Logger;
}

const CREATE_INDEX = /^CREATE\s+(UNIQUE\s+)?INDEX\s/i;
const EXISTS_CODES = new Set(['42P07', '42710']);
// A constraint taking an index that a constraint already has (55000 object_not_in_prerequisite_state).
const USING_INDEX = /\sADD\s+CONSTRAINT\s.*\sUSING\s+INDEX\s/is;

export async function rebuildStructure(
  client: pg.ClientBase,
  statements: readonly string[],
  opts: RebuildOptions,
): Promise<void> {
  const parallel = Math.max(1, Math.floor(opts.parallel ?? 1));
  if (parallel > 1 && !opts.connect) {
    throw new LondisteError('usage', `rebuild of ${opts.table}: parallel builds need a connect function`);
  }
  const indexes = parallel > 1 ? statements.filter((s) => CREATE_INDEX.test(s)) : [];
  const rest = parallel > 1 ? statements.filter((s) => !CREATE_INDEX.test(s)) : statements;

  if (indexes.length > 0) {
    const queue = [...indexes];
    const workers = Array.from({ length: Math.min(parallel, indexes.length) }, async () => {
      const c = await (opts.connect as () => Promise<pg.Client>)();
      try {
        await withWorkMem(c, opts.maintenanceWorkMem, async () => {
          for (let sql = queue.shift(); sql !== undefined; sql = queue.shift()) {
            await runStatement(c, sql, opts, false);
          }
        });
      } finally {
        await c.end().catch(() => {});
      }
    });
    // Every worker finishes (or fails) before the error is raised: no build is left running.
    const results = await Promise.allSettled(workers);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  const inTx = (client as unknown as { _txStatus?: string })._txStatus === 'T';
  await withWorkMem(client, opts.maintenanceWorkMem, async () => {
    for (const sql of rest) await runStatement(client, sql, opts, inTx);
  });
}

async function withWorkMem<T>(c: pg.ClientBase, value: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!value) return fn();
  const prev = await c.query<{ v: string }>(
    `select current_setting('maintenance_work_mem') as v, set_config('maintenance_work_mem', $1, false)`,
    [value],
  );
  try {
    return await fn();
  } finally {
    // Fails harmlessly in an aborted transaction, whose rollback undoes the SET anyway.
    await c.query(`select set_config('maintenance_work_mem', $1, false)`, [prev.rows[0]?.v]).catch(() => {});
  }
}

async function runStatement(
  c: pg.ClientBase,
  sql: string,
  opts: RebuildOptions,
  inTx: boolean,
): Promise<void> {
  const started = performance.now();
  const guard = opts.skipExisting && inTx;
  try {
    if (guard) await c.query('savepoint londiste_rebuild');
    await c.query(sql);
    if (guard) await c.query('release savepoint londiste_rebuild');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const exists = !!code && (EXISTS_CODES.has(code) || (code === '55000' && USING_INDEX.test(sql)));
    if (opts.skipExisting && exists) {
      if (guard) await c.query('rollback to savepoint londiste_rebuild');
      opts.logger?.info('rebuild: already there, skipped', { table: opts.table, sql });
      return;
    }
    throw new LondisteError('copy_failed', `table ${opts.table}: ${(err as Error).message} (in: ${sql})`, {
      cause: err,
    });
  }
  opts.logger?.debug('rebuild: done', {
    table: opts.table,
    sql,
    ms: Math.round(performance.now() - started),
  });
}
