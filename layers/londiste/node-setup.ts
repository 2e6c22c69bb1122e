// A Londiste node declared as data (the LondisteNode construct's custom resource): make the
// database that node — create-root / create-branch / create-leaf as the CLI does it, then
// add-table and add-seq — and keep it so on every deploy. Applying the same spec again changes
// nothing; a new table in the spec is added (and copied by the worker); a handler that changed is
// changed (change-handler). What the spec no longer names is removed only when the user asked for
// that (removeTablesOnDelete): a removed table stops replicating and its trigger goes on the root,
// which must not happen because a list was edited by accident. The node itself is never dropped:
// its position in the cascade and its subscribers outlive the stack (drop-node is an operator's
// decision, made with the CLI).
import { getNodeInfo, type NodeType } from '../cascade/node.ts';
import type { LondisteAdmin } from './admin.ts';
import { LondisteError } from './errors.ts';
import { createHandlerString } from './handler.ts';
import { fqName, getSeqList, getTableList } from './tables.ts';

export interface TableSpec {
  /** The table on the provider (schema.name; public. assumed). */
  name: string;
  /** Handler name (default: londiste). */
  handler?: string;
  /** Handler arguments: `{ key: value }` or `key=value` strings. */
  handlerArgs?: Record<string, string> | readonly string[];
  /** Where the rows go on this node (default: the same name). */
  destTable?: string;
  /** WHERE of the initial copy; needs a handler that takes a copy condition (none does yet). */
  copyCondition?: string;
  /** Create the table here from the provider's (add-table --create-full) when it is missing. */
  create?: boolean;
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
    if (t.copyCondition)
      throw new LondisteError(
        'usage',
        `${t.name}: copyCondition needs a handler that takes a copy condition; none of the registered handlers does yet`,
      );
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
    createFull: t.create === true || String(t.create) === 'true' ? true : undefined,
  };
}

/** Does the table's registered handler differ from the spec's (table_attrs `handler`)? */
function handlerChanged(attrs: Record<string, string | null>, flags: ReturnType<typeof tableFlags>): boolean {
  const want = flags.handler ? createHandlerString(flags.handler, flags.handlerArgs ?? []) : undefined;
  return (want ?? '') !== (attrs.handler ?? '');
}
