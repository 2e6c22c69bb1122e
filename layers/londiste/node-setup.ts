// A Londiste node declared as data (the LondisteNode construct's custom resource): make the
// database that node — create-root / create-branch / create-leaf as the CLI does it, then
// add-table and add-seq — and keep it so on every deploy. Applying the same spec again changes
// nothing; a new table in the spec is added (and copied by the worker); a handler that changed is
// changed (change-handler). What the spec no longer names is removed only when the user asked for
// that (removeTablesOnDelete): a removed table stops replicating and its trigger goes on the root,
// which must not happen because a list was edited by accident. The node itself is never dropped:
// its position in the cascade and its subscribers outlive the stack (drop-node is an operator's
// decision, made with the CLI).
//
// Below the root a table marked `create` that is missing here is made from the provider's
// definition first (add-table --create-full, admin-create.ts), as the spec's tableOwner (SET ROLE
// for those statements only: the owner role owns the table, the login reaches it through its
// membership, and the login's own privileges serve everything else the set-up does).
import type pg from 'pg';
import { getNodeInfo, type NodeType } from '../cascade/node.ts';
import { quoteIdent } from '../db/ident.ts';
import { inTransaction } from '../db/transaction.ts';
import type { LondisteAdmin } from './admin.ts';
import { tableDdl, tableExists } from './admin-create.ts';
import { LondisteError } from './errors.ts';
import { createHandlerString } from './handler.ts';
import { fqName, getSeqList, getTableList } from './tables.ts';

/** Why a table spec takes no copy condition (the LondisteNode construct refuses it at synth too). */
export const COPY_CONDITION_REFUSED =
  "copyCondition is not supported: which rows a copy takes is a handler's own decision (shard and part derive it from the node's shard info), no handler takes a condition as an argument, and the original's add-table has no such option; to copy a subset, use the shard or part handler (handlerArgs key or hash_key)";

export interface TableSpec {
  /** The table on the provider (schema.name; public. assumed). */
  name: string;
  /** Handler name (default: londiste). */
  handler?: string;
  /** Handler arguments: `{ key: value }` or `key=value` strings. */
  handlerArgs?: Record<string, string> | readonly string[];
  /** Where the rows go on this node (default: the same name). */
  destTable?: string;
  /** Refused (COPY_CONDITION_REFUSED): kept in the shape so a spec that has one is told why. */
  copyCondition?: string;
  /** Below the root: create the table here from the provider's (add-table --create-full) when it is missing. */
  create?: boolean | string;
}

export interface NodeSpec {
  queue: string;
  node: string;
  nodeType: NodeType;
  /** The worker (consumer) name, the container's LONDISTE_JOB_NAME. */
  worker: string;
  /** This node's location as the others reach it (no password). */
  location: string;
  /** The provider's location (branch, leaf). */
  providerLocation?: string;
  tables: TableSpec[];
  sequences: string[];
  /** Remove tables and sequences the spec no longer names (Update) or all of them (Delete). */
  removeTablesOnDelete: boolean;
  /** The role that owns the tables the set-up creates (the login is its member). */
  tableOwner?: string;
}

export interface ApplyOptions {
  /** A connection to the provider (for `create`), opened only when a table must be created. */
  connectProvider?: () => Promise<pg.Client>;
}

export interface SetupResult {
  notes: string[];
  added: string[];
  removed: string[];
}

/** Makes the node what the spec says (Create and Update); `previous` is the spec of the last deploy. */
export async function applyNodeSpec(
  admin: LondisteAdmin,
  spec: NodeSpec,
  previous?: NodeSpec,
  o: ApplyOptions = {},
): Promise<SetupResult> {
  checkSpec(spec);
  const res: SetupResult = { notes: [], added: [], removed: [] };
  const local = await admin.local();
  const info = await getNodeInfo(local, spec.queue);
  if (info.nodeType && (info.nodeType !== spec.nodeType || info.nodeName !== spec.node)) {
    throw new LondisteError(
      'state',
      `${spec.queue}: the database is node ${info.nodeName} (${info.nodeType}), not ${spec.node} (${spec.nodeType}); change it with the CLI (takeover, drop-node), not by a deploy`,
    );
  }
  if (!info.nodeType) {
    res.notes.push(
      await admin.createNode(spec.nodeType, {
        nodeName: spec.node,
        location: spec.location,
        worker: spec.worker,
        provider: spec.providerLocation,
      }),
    );
  }
  const tables = new Map((await getTableList(local, spec.queue)).map((t) => [t.tableName, t]));
  const created = await createMissing(local, spec, o);
  res.notes.push(...created.map((n) => `Table created from the provider: ${n}`));
  for (const t of spec.tables) {
    const name = fqName(t.name);
    const flags = tableFlags(t);
    const have = tables.get(name);
    if (!have?.local) {
      const r = await admin.addTables([name], flags);
      res.notes.push(...r.notes);
      res.added.push(name);
    } else if (spec.nodeType !== 'root' && handlerChanged(have.tableAttrs, flags)) {
      const r = await admin.changeHandler(name, flags);
      res.notes.push(...r.notes);
    }
  }
  const seqs = new Set((await getSeqList(local, spec.queue)).filter((s) => s.local).map((s) => s.seqName));
  const newSeqs = spec.sequences.map(fqName).filter((s) => !seqs.has(s));
  if (newSeqs.length) {
    res.notes.push(...(await admin.addSeqs(newSeqs)).notes);
    res.added.push(...newSeqs);
  }
  if (previous && spec.removeTablesOnDelete) {
    const keepT = new Set(spec.tables.map((t) => fqName(t.name)));
    const keepS = new Set(spec.sequences.map(fqName));
    await removeListed(
      admin,
      previous.tables.map((t) => fqName(t.name)).filter((n) => !keepT.has(n)),
      previous.sequences.map(fqName).filter((n) => !keepS.has(n)),
      res,
    );
  }
  return res;
}

/** Delete: the spec's tables and sequences go only when removeTablesOnDelete; the node stays. */
export async function deleteNodeSpec(admin: LondisteAdmin, spec: NodeSpec): Promise<SetupResult> {
  const res: SetupResult = { notes: [], added: [], removed: [] };
  if (!spec.removeTablesOnDelete) {
    res.notes.push('tables and sequences kept (removeTablesOnDelete is off)');
    return res;
  }
  const info = await getNodeInfo(await admin.local(), spec.queue);
  if (!info.nodeType) return res;
  await removeListed(
    admin,
    spec.tables.map((t) => fqName(t.name)),
    spec.sequences.map(fqName),
    res,
  );
  return res;
}

async function removeListed(admin: LondisteAdmin, tables: string[], seqs: string[], res: SetupResult) {
  const local = await admin.local();
  const q = admin.queue;
  const haveT = new Set((await getTableList(local, q)).filter((t) => t.local).map((t) => t.tableName));
  const haveS = new Set((await getSeqList(local, q)).filter((s) => s.local).map((s) => s.seqName));
  const t = tables.filter((n) => haveT.has(n));
  const s = seqs.filter((n) => haveS.has(n));
  if (t.length) res.notes.push(...(await admin.removeTables(t)).notes);
  if (s.length) res.notes.push(...(await admin.removeSeqs(s)).notes);
  res.removed.push(...t, ...s);
}

function checkSpec(spec: NodeSpec) {
  if (!spec.queue || !spec.node || !spec.worker)
    throw new LondisteError('usage', 'a node needs Queue, Node and a worker name');
  if (!['root', 'branch', 'leaf'].includes(spec.nodeType))
    throw new LondisteError(
      'usage',
      `NodeType must be root, branch or leaf, not ${JSON.stringify(spec.nodeType)}`,
    );
  if (spec.nodeType !== 'root' && !spec.providerLocation)
    throw new LondisteError('usage', `a ${spec.nodeType} needs ProviderLocation`);
  for (const t of spec.tables) {
    if (!t.name) throw new LondisteError('usage', 'every entry of Tables needs a name');
    if (t.copyCondition) throw new LondisteError('usage', `${t.name}: ${COPY_CONDITION_REFUSED}`);
    if (isCreate(t) && spec.nodeType === 'root')
      throw new LondisteError(
        'usage',
        `${t.name}: create applies below the root (tables are made from the provider's); create the root's tables before (LondisteNode databaseSql)`,
      );
  }
}

const isCreate = (t: TableSpec) => t.create === true || String(t.create) === 'true';

/** The spec's `create` tables missing here, made like the provider's; returns their names. */
async function createMissing(local: pg.Client, spec: NodeSpec, o: ApplyOptions): Promise<string[]> {
  const want = spec.tables.filter(isCreate);
  const missing: { name: string; dest: string }[] = [];
  for (const t of want) {
    const dest = fqName(t.destTable ?? t.name);
    if (!(await tableExists(local, dest))) missing.push({ name: fqName(t.name), dest });
  }
  if (!missing.length) return [];
  if (!o.connectProvider)
    throw new LondisteError('usage', `creating ${missing[0]!.dest} needs a connection to the provider`);
  const provider = await o.connectProvider();
  try {
    // A branch above may keep the table under another name (its dest_table).
    const onProvider = new Map((await getTableList(provider, spec.queue)).map((t) => [t.tableName, t]));
    const ddl: string[] = [];
    for (const m of missing) {
      const src = onProvider.get(m.name)?.destTable ?? m.name;
      if (!(await tableExists(provider, src)))
        throw new LondisteError(
          'not_found',
          `${m.name}: cannot create it here, ${src} does not exist on the provider`,
        );
      ddl.push(...(await tableDdl(provider, src, m.dest, true)));
    }
    // `create schema if not exists` checks CREATE on the database before it looks: an owner role
    // that may only create in the schema would be refused for a schema that is there.
    const have = await local.query<{ nspname: string }>('select nspname from pg_catalog.pg_namespace');
    const present = new Set(have.rows.map((r) => `create schema if not exists ${quoteIdent(r.nspname)}`));
    await inTransaction(local, async () => {
      if (spec.tableOwner) await local.query(`set local role ${quoteIdent(spec.tableOwner)}`);
      for (const stmt of ddl) if (!present.has(stmt)) await local.query(stmt);
    });
    return missing.map((m) => m.dest);
  } finally {
    await provider.end().catch(() => {});
  }
}

function tableFlags(t: TableSpec) {
  const args = Array.isArray(t.handlerArgs)
    ? [...(t.handlerArgs as readonly string[])]
    : Object.entries(t.handlerArgs ?? {}).map(([k, v]) => `${k}=${v}`);
  return {
    handler: t.handler,
    handlerArgs: args.length ? args : undefined,
    destTable: t.destTable ? fqName(t.destTable) : undefined,
  };
}

/** Does the table's registered handler differ from the spec's (table_attrs `handler`)? */
function handlerChanged(attrs: Record<string, string | null>, flags: ReturnType<typeof tableFlags>): boolean {
  const want = flags.handler ? createHandlerString(flags.handler, flags.handlerArgs ?? []) : undefined;
  return (want ?? '') !== (attrs.handler ?? '');
}
