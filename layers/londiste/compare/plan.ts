// What compare and repair both start from, as the original's Syncer: the subscriber's tables to
// check (named ones or every ok table), each with its provider table, its handler's copy
// condition, the common columns and the primary key; and how to open connections to both nodes.
import type pg from 'pg';
import type { AdminSession } from '../../cascade/admin-session.ts';
import { connectLocation, getNodeInfo, type NodeInfo } from '../../cascade/node.ts';
import type { Logger } from '../../util/log.ts';
import { matchColumns, readColumns } from '../copy/columns.ts';
import { LondisteError } from '../errors.ts';
import { buildHandler } from '../handlers/index.ts';
import { fqName, getTableList } from '../tables.ts';
import { type KeyColumn, primaryKey } from './sql-text.ts';

// OIDs below it are the built-in catalog's, the same in every database.
const FIRST_NORMAL_OID = 16384;

export interface TablePlan {
  /** The replicated table's name (as in get_table_list). */
  table: string;
  /** Where its rows are on the provider and here (dest_table or the name itself). */
  providerTable: string;
  subscriberTable: string;
  /** The handler's copy condition ('' = every row), applied on both sides. */
  condition: string;
  columns: string[];
  /** Per column: its type when both sides have the same built-in one, else null. */
  types: (string | null)[];
  key: KeyColumn[];
}

export interface Plan {
  tables: TablePlan[];
  /** Names given that cannot be checked, with why (the original warns and goes on). */
  skipped: { table: string; reason: string }[];
  provider: NodeInfo;
  connectProvider: () => Promise<pg.Client>;
  connectSubscriber: () => Promise<pg.Client>;
  subscriberWorker: string;
}

export interface PlanOptions {
  s: AdminSession;
  /** This node's connect string (the .ini's db). */
  localLocation: string;
  tables: readonly string[];
  log: Logger;
  /** What the connections are called in pg_stat_activity. */
  applicationName: string;
}

/** The two nodes of a plan: who the provider is and how to reach both (planTables' first part). */
export type PlanNodes = Omit<Plan, 'tables' | 'skipped'> & {
  local: pg.ClientBase;
  providerDb: pg.ClientBase;
  providerNode: string;
};

export async function planNodes(o: PlanOptions): Promise<PlanNodes> {
  const { s } = o;
  const info = await s.loadLocal();
  if (info.nodeType === 'root' || !info.providerLocation)
    throw new LondisteError('usage', `${info.nodeName} is the root: run this on a subscriber node`);
  if (!info.workerName) throw new LondisteError('state', `node ${info.nodeName} has no worker`);
  const [local, providerDb] = await Promise.all([s.local(), s.providerDb()]);
  const provider = await getNodeInfo(providerDb, s.queue);
  const connect = (loc: string) => () => connectLocation(loc, { applicationName: o.applicationName });
  return {
    local,
    providerDb,
    providerNode: info.providerNode ?? '?',
    provider,
    connectProvider: connect(info.providerLocation),
    connectSubscriber: connect(o.localLocation),
    subscriberWorker: info.workerName,
  };
}

export async function planTables(o: PlanOptions, known?: PlanNodes): Promise<Plan> {
  const { s, log } = o;
  const nodes = known ?? (await planNodes(o));
  const { local, providerDb } = nodes;
  const [localList, providerList] = await Promise.all([
    getTableList(local, s.queue),
    getTableList(providerDb, s.queue),
  ]);
  const mine = localList.filter((t) => t.local);
  const theirs = new Map(providerList.map((t) => [t.tableName, t]));
  const names = o.tables.length
    ? o.tables.map(fqName)
    : mine.filter((t) => t.mergeState === 'ok').map((t) => t.tableName);
  const byName = new Map(mine.map((t) => [t.tableName, t]));
  const tables: TablePlan[] = [];
  const skipped: Plan['skipped'] = [];
  for (const name of names) {
    const t2 = byName.get(name);
    const t1 = theirs.get(name);
    const skip = (reason: string) => {
      log.warn(`${name}: ${reason}`);
      skipped.push({ table: name, reason });
    };
    if (!t2) {
      skip('not subscribed on this node');
      continue;
    }
    if (t2.mergeState !== 'ok') {
      skip(`not in sync yet (${t2.mergeState ?? 'missing'})`);
      continue;
    }
    if (!t1?.local || t1.mergeState !== 'ok') {
      skip(`not ready on provider ${nodes.providerNode}`);
      continue;
    }
    const providerTable = t1.destTable || name;
    const subscriberTable = t2.destTable || name;
    const handler = buildHandler(name, t2.tableAttrs.handler ?? null, t2.destTable);
    const condition = await handler.copyCondition({ provider: providerDb, local, log });
    const [pc, sc] = await Promise.all([
      readColumns(providerDb, providerTable),
      readColumns(local, subscriberTable),
    ]);
    const match = matchColumns(pc, sc);
    // Hashed by value only where both sides have the very same built-in type (checksum.ts).
    const types = match.common.map((name) => {
      const p = pc.find((c) => c.name === name)!;
      const q = sc.find((c) => c.name === name)!;
      return p.type === q.type && p.typeOid === q.typeOid && p.typeOid < FIRST_NORMAL_OID ? p.type : null;
    });
    if (match.common.length === 0) {
      skip('no common columns');
      continue;
    }
    if (match.missingOnSubscriber.length || match.missingOnProvider.length)
      log.warn(
        `${name}: ignoring columns not on both sides: ${[...match.missingOnSubscriber, ...match.missingOnProvider].join(', ')}`,
      );
    const pk = await primaryKey(providerDb, providerTable);
    // A key column missing on one side is no key to merge or split by.
    const key = pk.every((k) => match.common.includes(k.name)) ? pk : [];
    tables.push({
      table: name,
      providerTable,
      subscriberTable,
      condition,
      columns: match.common,
      types,
      key,
    });
  }
  const { local: _l, providerDb: _p, providerNode: _n, ...rest } = nodes;
  return { tables, skipped, ...rest };
}
