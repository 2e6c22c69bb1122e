// The table commands of the setup: add-table, remove-table, change-handler, resync, as the
// original's LondisteSetup does them, with two differences a script can rely on: every name is
// checked before anything changes, and each command runs in one transaction on this node (all
// named tables or none; the original commits table by table).
import type pg from 'pg';
import { getNodeInfo } from '../cascade/node.ts';
import type { Queryable } from '../db/transaction.ts';
import { inTransaction } from '../db/transaction.ts';
import { addUnlessWorkerDid, type LondisteContext, registers, setLockTimeout } from './admin-context.ts';
import { tableDdl, tableExists } from './admin-create.ts';
import { expandNames } from './admin-names.ts';
import { LondisteError } from './errors.ts';
import { createHandlerString, type TableHandler } from './handler.ts';
import { buildHandler } from './handlers/index.ts';
import {
  fqName,
  getTableList,
  globalAddTable,
  globalRemoveTable,
  localAddTable,
  localChangeHandler,
  localRemoveTable,
  localShowMissing,
  type RetNote,
  setTableAttrs,
  setTableState,
  type TableInfo,
} from './tables.ts';
import type { UrlencRow } from './urlenc.ts';

/** The add-table / change-handler / resync options (the original's flags). */
export interface TableFlags {
  all?: boolean;
  force?: boolean;
  create?: boolean;
  createFull?: boolean;
  destTable?: string;
  expectSync?: boolean;
  skipTruncate?: boolean;
  triggerFlags?: string;
  triggerArgs?: readonly string[];
  noTriggers?: boolean;
  mergeAll?: boolean;
  noMerge?: boolean;
  handler?: string;
  handlerArgs?: readonly string[];
  copyNode?: string;
  findCopyNode?: boolean;
  maxParallelCopy?: number;
  skipNonExisting?: boolean;
}

/** What a command did, one line per object (the ret_notes), and the warnings it logged. */
export interface CommandResult {
  notes: string[];
  warnings: string[];
}

// ---- handler strings and trigger arguments ------------------------------------------------------

/**
 * The handler a table would get (the registry's, layers/londiste/handlers/): an unknown handler
 * or an argument it does not take is refused here, before anything changes.
 */
export function tableHandler(o: TableFlags, table: string, dest: string | null): TableHandler | null {
  if (!o.handler) {
    if (o.handlerArgs?.length) throw new LondisteError('usage', '--handler-arg needs --handler');
    return null;
  }
  return buildHandler(table, createHandlerString(o.handler, o.handlerArgs ?? []), dest);
}

const TRIGGER_FLAGS = /^[BAIUDLQJS]+$/;

/** The trigger arguments of local_add_table / local_change_handler (the original's build_tgargs). */
export function triggerArgs(o: TableFlags): string[] {
  const out = [...(o.triggerArgs ?? [])];
  if (o.triggerFlags) {
    if (!TRIGGER_FLAGS.test(o.triggerFlags))
      throw new LondisteError(
        'usage',
        `invalid --trigger-flags ${JSON.stringify(o.triggerFlags)}: letters of BAIUDLQJS`,
      );
    out.push(`tgflags=${o.triggerFlags}`);
  }
  if (o.noTriggers) out.push('no_triggers');
  if (o.mergeAll) out.push('merge_all');
  if (o.noMerge) out.push('no_merge');
  if (o.expectSync) out.push('expect_sync');
  return out;
}

// ---- the table list -----------------------------------------------------------------------------

/**
 * The provider's set as this node should know it: tables registered there but not here are added
 * (unless filtered out by register_only/skip_tables), tables gone there are removed here.
 */
export async function syncTableList(
  ctx: LondisteContext,
  dst: Queryable,
  src: readonly TableInfo[],
  dstList: readonly TableInfo[],
): Promise<void> {
  const q = ctx.s.queue;
  const have = new Set(dstList.map((t) => t.tableName));
  const there = new Set(src.map((t) => t.tableName));
  for (const t of src) {
    if (have.has(t.tableName)) continue;
    if (!registers(ctx.cfg.registerOnlyTables, ctx.cfg.registerSkipTables, t.tableName)) continue;
    ctx.s.log.info(`table ${t.tableName} info missing from this node, adding`);
    await addUnlessWorkerDid(dst, () => globalAddTable(dst, q, t.tableName));
  }
  for (const t of dstList) {
    if (there.has(t.tableName)) continue;
    ctx.s.log.info(`table ${t.tableName} gone on the provider but registered here, removing`);
    await globalRemoveTable(dst, q, t.tableName);
  }
}

/** The node to read tables from: --copy-node's, else the provider (on the root: itself). */
async function sourceDb(ctx: LondisteContext, copyNode?: string): Promise<pg.Client> {
  const s = ctx.s;
  if (copyNode) {
    if (copyNode === s.localName) throw new LondisteError('usage', '--copy-node cannot be this node itself');
    if (!s.members.has(copyNode))
      throw new LondisteError('not_found', `--copy-node ${copyNode}: no such member of queue ${s.queue}`);
    const db = await s.nodeDb(copyNode);
    if (!db) throw new LondisteError('state', `--copy-node ${copyNode} is dead`);
    return db;
  }
  if (s.localInfo.nodeType === 'root') return s.local();
  return s.providerDb();
}

/**
 * The nearest node up the provider chain that has every table local (the original's
 * find_copy_source); its name and connection.
 */
export async function findCopySource(
  ctx: LondisteContext,
  tables: readonly string[],
): Promise<{ node: string; db: pg.Client }> {
  const s = ctx.s;
  let name = s.localInfo.providerNode;
  for (let hops = 0; name && hops < 100; hops++) {
    const db = await s.nodeDb(name);
    if (!db) throw new LondisteError('state', `--find-copy-node: node ${name} is dead`);
    const info = await getNodeInfo(db, s.queue);
    const local = new Set((await getTableList(db, s.queue)).filter((t) => t.local).map((t) => t.tableName));
    if (tables.every((t) => local.has(t))) {
      s.log.info(`node ${name} has every table, copying from it`);
      return { node: name, db };
    }
    if (info.nodeType === 'root') break;
    name = info.providerNode;
  }
  throw new LondisteError(
    'not_found',
    `--find-copy-node: no node up to the root has all of ${tables.join(', ')}`,
  );
}

// ---- add-table ----------------------------------------------------------------------------------

export async function addTables(
  ctx: LondisteContext,
  args: readonly string[],
  o: TableFlags,
): Promise<CommandResult> {
  const s = ctx.s;
  const q = s.queue;
  const res: CommandResult = { notes: [], warnings: [] };
  const warn = (m: string) => {
    res.warnings.push(m);
    s.log.warn(m);
  };
  await s.loadLocal();
  const isRoot = s.localInfo.nodeType === 'root';
  // Arguments that need no database are checked first.
  const tgargs = triggerArgs(o);
  // As the original: a handler that needs no table (e.g. one that queues the rows elsewhere)
  // takes names that are not tables here.
  const probe = tableHandler(o, 'unused.string', null);
  const needsTable = probe?.needsTable() ?? true;
  const handler = o.handler ? createHandlerString(o.handler, o.handlerArgs ?? []) : undefined;
  if (o.copyNode && o.findCopyNode)
    throw new LondisteError('usage', 'give --copy-node or --find-copy-node, not both');
  if (o.maxParallelCopy !== undefined && !(Number.isInteger(o.maxParallelCopy) && o.maxParallelCopy > 0))
    throw new LondisteError(
      'usage',
      `--max-parallel-copy must be a positive integer, not ${o.maxParallelCopy}`,
    );
  const full = o.createFull === true;
  const create = full || o.create === true;

  const dst = await s.local();
  let src = await sourceDb(ctx, o.copyNode);
  let srcTbls = isRoot ? null : await getTableList(src, q);

  await inTransaction(dst, async () => {
    await setLockTimeout(dst, ctx.cfg.lockTimeoutMs);
    if (srcTbls) await syncTableList(ctx, dst, srcTbls, await getTableList(dst, q));
    const local = (await getTableList(dst, q)).filter((t) => t.local).map((t) => t.tableName);
    const missing = (await localShowMissing(dst, q)).filter((m) => m.kind === 'r').map((m) => m.name);
    const picked = expandNames({
      args,
      all: o.all,
      candidates: missing,
      done: local,
      force: o.force,
      allowUnknown: !needsTable,
      what: 'table',
      hint: isRoot
        ? 'no such table in this database, or not a plain table'
        : 'not in the set: add it on the root first; see "missing"',
    });
    for (const w of picked.warnings) warn(w);
    for (const a of picked.already) res.notes.push(`Table already added: ${a}`);
    const names = picked.names;
    if (names.length === 0) return;
    if (o.destTable && names.length > 1)
      throw new LondisteError('usage', `--dest-table can be given for one table only, not ${names.length}`);

    if (o.findCopyNode && create && !isRoot) {
      src = (await findCopySource(ctx, names)).db;
      srcTbls = await getTableList(src, q);
    }
    // Tables the provider has in the set but does not replicate itself cannot be copied from it.
    if (srcTbls && !o.expectSync && !o.findCopyNode) {
      const byName = new Map(srcTbls.map((t) => [t.tableName, t]));
      const bad = names.filter((n) => byName.has(n) && !byName.get(n)!.local);
      if (bad.length && !o.skipNonExisting) {
        throw new LondisteError(
          'state',
          `table(s) not replicated on the provider: ${bad.join(', ')}; add them there first or use another provider (--copy-node)`,
        );
      }
      for (const b of bad) warn(`table ${b} does not exist on the provider`);
    }

    const srcByName = new Map((srcTbls ?? []).map((t) => [t.tableName, t]));
    for (const tbl of names) {
      const dest = fqName(o.destTable ?? tbl);
      const desc = dest === tbl ? tbl : `${tbl}(${dest})`;
      const exists = await tableExists(dst, dest);
      if (create) {
        if (exists) s.log.info(`table ${desc} already exists, not creating it`);
        else {
          const st = srcByName.get(tbl);
          const srcName = st?.destTable ?? tbl;
          if (!(await tableExists(src, srcName))) {
            warn(`table ${desc} missing on the provider, cannot create it, skipping`);
            continue;
          }
          for (const stmt of await tableDdl(src, srcName, dest, full)) await dst.query(stmt);
          s.log.info(`table ${desc} created`);
        }
      } else if (!exists && needsTable) {
        if (o.skipNonExisting) {
          warn(`table ${desc} does not exist on this node, skipping`);
          continue;
        }
        if (!isRoot || dest !== tbl)
          throw new LondisteError(
            'not_found',
            `table ${desc} does not exist on this node: create it, or use --create / --create-full (or --skip-non-existing)`,
          );
      }
      const attrs: UrlencRow = {};
      if (handler) attrs.handler = handler;
      if (o.findCopyNode) attrs.copy_node = '?';
      else if (o.copyNode) attrs.copy_node = o.copyNode;
      if (!o.expectSync && o.skipTruncate) attrs.skip_truncate = '1';
      if (o.maxParallelCopy) attrs.max_parallel_copy = String(o.maxParallelCopy);
      const h = tableHandler(o, tbl, dest);
      const r = await localAddTable(dst, q, tbl, {
        triggerArgs: h ? h.triggerArgs(tgargs) : tgargs,
        tableAttrs: attrs,
        destTable: dest !== tbl ? dest : null,
      });
      note(res, r, (m) => s.log.warn(m));
    }
  });
  return res;
}

function note(res: CommandResult, r: RetNote, warn: (m: string) => void): void {
  if (r.ret_code >= 300) {
    res.warnings.push(r.ret_note);
    warn(r.ret_note);
  } else res.notes.push(r.ret_note);
}

// ---- remove-table, resync -------------------------------------------------------------------

async function localNames(ctx: LondisteContext, db: Queryable) {
  const list = await getTableList(db, ctx.s.queue);
  return {
    list,
    local: list.filter((t) => t.local).map((t) => t.tableName),
    other: list.filter((t) => !t.local).map((t) => t.tableName),
  };
}

export async function removeTables(
  ctx: LondisteContext,
  args: readonly string[],
  o: Pick<TableFlags, 'all' | 'force'>,
): Promise<CommandResult> {
  const s = ctx.s;
  const res: CommandResult = { notes: [], warnings: [] };
  await s.loadLocal();
  const db = await s.local();
  await inTransaction(db, async () => {
    await setLockTimeout(db, ctx.cfg.lockTimeoutMs);
    const { local, other } = await localNames(ctx, db);
    const picked = expandNames({
      args,
      all: o.all,
      candidates: local,
      done: other,
      what: 'table',
      hint: 'not registered on this node; see "tables"',
    });
    for (const a of picked.already) res.notes.push(`Table not local: ${a}`);
    for (const t of picked.names) note(res, await localRemoveTable(db, s.queue, t), (m) => s.log.warn(m));
  });
  return res;
}

/**
 * Copies the tables again: state NULL, snapshot cleared (the worker starts the copy); with
 * --copy-node / --find-copy-node the copy source is stored first.
 */
export async function resyncTables(
  ctx: LondisteContext,
  args: readonly string[],
  o: Pick<TableFlags, 'all' | 'copyNode' | 'findCopyNode'>,
): Promise<CommandResult> {
  const s = ctx.s;
  const q = s.queue;
  const res: CommandResult = { notes: [], warnings: [] };
  await s.loadLocal();
  if (o.copyNode && o.findCopyNode)
    throw new LondisteError('usage', 'give --copy-node or --find-copy-node, not both');
  const db = await s.local();
  const isRoot = s.localInfo.nodeType === 'root';
  if (isRoot) throw new LondisteError('state', 'resync on the root: the root is the source of its tables');
  const srcTbls = o.findCopyNode ? null : await getTableList(await sourceDb(ctx, o.copyNode), q);
  await inTransaction(db, async () => {
    const { list, local, other } = await localNames(ctx, db);
    const picked = expandNames({
      args,
      all: o.all,
      candidates: local,
      done: [],
      what: 'table',
      hint: other.length ? 'not registered on this node (add-table first); see "tables"' : 'see "tables"',
    });
    if (srcTbls) {
      const there = new Set(srcTbls.filter((t) => t.local).map((t) => t.tableName));
      const bad = picked.names.filter((n) => !there.has(n));
      if (bad.length)
        throw new LondisteError(
          'state',
          `table(s) not replicated on the provider: ${bad.join(', ')}; use another provider (--copy-node)`,
        );
    }
    const byName = new Map(list.map((t) => [t.tableName, t]));
    for (const t of picked.names) {
      // resync is what clears the worker's failed mark (attrs `error`): without this the table
      // would stay NULL and skipped forever, never copied again.
      const { error, ...kept } = byName.get(t)!.tableAttrs;
      if (o.copyNode || o.findCopyNode || error !== undefined) {
        const attrs =
          o.copyNode || o.findCopyNode ? { ...kept, copy_node: o.findCopyNode ? '?' : o.copyNode! } : kept;
        await setTableAttrs(db, q, t, attrs);
      }
      note(res, await setTableState(db, q, t, null, null), (m) => s.log.warn(m));
    }
  });
  return res;
}

// ---- change-handler ----------------------------------------------------------------------------

/** New handler (or none: back to the default) and trigger arguments for one local table. */
export async function changeHandler(
  ctx: LondisteContext,
  table: string | undefined,
  o: TableFlags,
): Promise<CommandResult> {
  const s = ctx.s;
  const q = s.queue;
  if (!table)
    throw new LondisteError('usage', 'change-handler needs the table: change-handler TABLE [--handler=…]');
  const tbl = fqName(table);
  await s.loadLocal();
  const db = await s.local();
  const t = (await getTableList(db, q)).find((x) => x.tableName === tbl && x.local);
  if (!t) throw new LondisteError('not_found', `table ${tbl} is not registered on this node; see "tables"`);
  const h = tableHandler(o, tbl, t.destTable);
  const tgargs = h ? h.triggerArgs(triggerArgs(o)) : triggerArgs(o);
  const newHandler = o.handler ? createHandlerString(o.handler, o.handlerArgs ?? []) : undefined;
  const attrs: UrlencRow = { ...t.tableAttrs };
  if ((attrs.handler ?? undefined) === newHandler) {
    return { notes: ['Handler is already set to desired value, nothing done'], warnings: [] };
  }
  if (newHandler) attrs.handler = newHandler;
  else delete attrs.handler;
  const res: CommandResult = { notes: [], warnings: [] };
  await inTransaction(db, async () => {
    await setLockTimeout(db, ctx.cfg.lockTimeoutMs);
    note(res, await localChangeHandler(db, q, tbl, tgargs, attrs), (m) => s.log.warn(m));
  });
  return res;
}
