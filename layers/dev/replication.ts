// Londiste in the local stack: the stack's database is the root of a replication set, a second
// database on the same server its leaf, and the tables of `replicate_tables` are replicated into
// it — set up as the deployed custom resource sets a node up (layers/londiste/node-setup.ts), the
// replay workers running in this process, each copy a child process `skytools londiste copy
// <table>` configured from its environment as a deployed copy task is (ChildProcessLauncher).
import { fileURLToPath } from 'node:url';
import { connectClient } from '../db/connection.ts';
import { install } from '../install/installer.ts';
import { LondisteAdmin } from '../londiste/admin.ts';
import { estimateTable, readRunningCopies } from '../londiste/copy/progress.ts';
import { ChildProcessLauncher } from '../londiste/launcher.ts';
import { applyNodeSpec } from '../londiste/node-setup.ts';
import { fqName } from '../londiste/tables.ts';
import { LondisteWorker } from '../londiste/worker.ts';
import type { Logger } from '../util/log.ts';

export const DEV_QUEUE = 'dev_replica';
const CLI = fileURLToPath(new URL('../../bin/skytools.ts', import.meta.url));

export interface ReplicationNodeStatus {
  node: string;
  type: 'root' | 'leaf';
  /** Seconds: age of the provider's tick the node last applied (leaf). */
  lag: number | null;
  tables: Array<{ name: string; state: string | null; copiedRows?: number; estimatedRows?: number | null }>;
}

export interface RunningReplication {
  status(): Promise<ReplicationNodeStatus[]>;
  stop(): Promise<void>;
}

/** The leaf's database: the stack's URL with `<database>_leaf`, created when missing. */
export async function ensureLeafDatabase(rootUrl: string, name?: string): Promise<string> {
  const u = new URL(rootUrl);
  const leaf = name ?? `${decodeURIComponent(u.pathname.slice(1)) || 'postgres'}_leaf`;
  const c = await connectClient({ connectionString: rootUrl, applicationName: 'skytools dev' });
  try {
    const r = await c.query('select 1 from pg_database where datname = $1', [leaf]);
    if (!r.rowCount) await c.query(`create database "${leaf.replaceAll('"', '""')}"`);
  } finally {
    await c.end();
  }
  u.pathname = `/${encodeURIComponent(leaf)}`;
  return u.toString();
}

export async function startReplication(o: {
  rootUrl: string;
  leafUrl: string;
  tables: readonly string[];
  signal: AbortSignal;
  log: Logger;
}): Promise<RunningReplication> {
  const tables = o.tables.map(fqName);
  // The leaf gets the schema and the tables' schemas; the tables themselves come from the root.
  const leaf = await connectClient({ connectionString: o.leafUrl, applicationName: 'skytools dev' });
  try {
    await install(leaf);
    for (const schema of new Set(tables.map((t) => t.split('.')[0]!)))
      await leaf.query(`create schema if not exists "${schema.replaceAll('"', '""')}"`);
  } finally {
    await leaf.end();
  }
  const nodes = [
    { node: 'root', type: 'root' as const, url: o.rootUrl },
    { node: 'leaf', type: 'leaf' as const, url: o.leafUrl },
  ];
  for (const n of nodes) {
    const admin = new LondisteAdmin({ queue: DEV_QUEUE, localLocation: n.url, log: o.log });
    try {
      await applyNodeSpec(
        admin,
        {
          queue: DEV_QUEUE,
          node: n.node,
          nodeType: n.type,
          worker: `dev_${n.node}`,
          location: n.url,
          providerLocation: n.type === 'leaf' ? o.rootUrl : undefined,
          tables: tables.map((name) => ({ name, create: n.type === 'leaf' })),
          sequences: [],
          removeTablesOnDelete: false,
        },
        undefined,
        // the leaf's tables are made from the root's definitions (create above)
        {
          connectProvider: () =>
            connectClient({ connectionString: o.rootUrl, applicationName: 'skytools dev' }),
        },
      );
    } finally {
      await admin.close();
    }
  }
  const root = await connectClient({ connectionString: o.rootUrl, applicationName: 'skytools dev' });
  await root.query("select pgq.set_queue_config($1, 'ticker_max_lag', '100 milliseconds')", [DEV_QUEUE]);
  // Copies as the deployed copy task runs them: the CLI without an .ini, configured by its environment.
  const copyEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: o.leafUrl,
    LONDISTE_QUEUE: DEV_QUEUE,
    LONDISTE_JOB_NAME: 'dev_leaf',
    LONDISTE_NODE: 'leaf',
    LONDISTE_NODE_TYPE: 'leaf',
  };
  const launcher = new ChildProcessLauncher(
    process.execPath,
    [CLI, 'londiste', 'copy', '--quiet'],
    o.log,
    copyEnv,
  );
  const workers = nodes.map(
    (n) =>
      new LondisteWorker({
        queue: DEV_QUEUE,
        worker: `dev_${n.node}`,
        connectLocal: () =>
          connectClient({ connectionString: n.url, applicationName: `skytools dev ${n.node}` }),
        loopDelayMs: 200,
        launcher: n.type === 'leaf' ? launcher : undefined,
        signal: o.signal,
        log: o.log.child({ node: n.node }),
      }),
  );
  const done = workers.map((w) => w.run());
  const leafStatus = await connectClient({
    connectionString: o.leafUrl,
    applicationName: 'skytools dev status',
  });
  return {
    async status() {
      const lag = await root.query(
        'select extract(epoch from lag)::float8 as lag from pgq.get_consumer_info($1, $2)',
        [DEV_QUEUE, 'dev_leaf'],
      );
      const copies = new Map((await readRunningCopies(leafStatus)).map((c) => [c.table, c.tuples]));
      const out: ReplicationNodeStatus[] = [];
      for (const [n, c] of [
        [nodes[0]!, root],
        [nodes[1]!, leafStatus],
      ] as const) {
        const r = await c.query(
          'select table_name, merge_state from londiste.get_table_list($1) where local order by 1',
          [DEV_QUEUE],
        );
        out.push({
          node: n.node,
          type: n.type,
          lag: n.type === 'leaf' ? (lag.rows[0]?.lag ?? null) : null,
          tables: r.rows.map((x) => ({
            name: x.table_name,
            state: x.merge_state,
            ...(copies.has(x.table_name)
              ? { copiedRows: copies.get(x.table_name), estimatedRows: null }
              : {}),
          })),
        });
      }
      // A copy's progress is against the root's row estimate.
      for (const t of out[1]!.tables) {
        if (t.copiedRows === undefined) continue;
        const est = await estimateTable(root, t.name);
        t.estimatedRows = est.rows;
      }
      return out;
    },
    async stop() {
      await Promise.allSettled(done);
      await launcher.close();
      await root.end().catch(() => {});
      await leafStatus.end().catch(() => {});
    },
  };
}
