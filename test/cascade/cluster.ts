// A three-node cascade for tests: databases, the admin per node, in-process workers and tickers
// (what `skytools setadm <ini> worker` and `skytools pgqd` run), and a recording handler on the
// leaf that stores every user event in a table in the worker's local transaction.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { CascadeAdmin } from '../../layers/cascade/admin.ts';
import { getNodeInfo } from '../../layers/cascade/node.ts';
import { type CascadeHandler, CascadeWorker, isCascadeEvent } from '../../layers/cascade/worker.ts';
import { typeParsers } from '../../layers/db/connection.ts';
import { quoteIdent } from '../../layers/db/ident.ts';
import { install } from '../../layers/install/installer.ts';
import { runTicker } from '../../layers/pgq/ticker.ts';
import { adminQuery, libpqBase, urlFor } from '../support/compat.ts';
import { createDatabase } from '../support/db.ts';

export interface NodeDb {
  name: string;
  url: string;
  /** Location other nodes store for this node (default: url), e.g. a libpq key=value string. */
  location?: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export const QUEUE = 'cq';

export function connectUrl(url: string): () => Promise<pg.Client> {
  return async () => {
    const c = new pg.Client({ connectionString: url, types: typeParsers, connectionTimeoutMillis: 5000 });
    c.on('error', () => {});
    await c.connect();
    return c;
  };
}

/** Records user events into leaf table cascade_seen (ev_id, data) in the batch's transaction. */
export const recordingHandler: CascadeHandler = async (batch, local) => {
  const evs = batch.events.filter((e) => !isCascadeEvent(e));
  if (evs.length === 0) return;
  await local.query('insert into cascade_seen (ev_id, data) select * from unnest($1::int8[], $2::text[])', [
    evs.map((e) => e.id.toString()),
    evs.map((e) => e.data),
  ]);
};

export class Cluster {
  readonly nodes: Record<string, NodeDb>;
  readonly queue: string;
  #workers = new Map<string, { ctl: AbortController; done: Promise<unknown>; worker: CascadeWorker }>();
  #tickers = new Map<string, { ctl: AbortController; done: Promise<unknown> }>();
  handlers: Record<string, CascadeHandler | undefined> = {};
  /** Extra worker options (e.g. to inject faults). */
  workerPatch: Record<string, Partial<ConstructorParameters<typeof CascadeWorker>[0]>> = {};

  constructor(nodes: Record<string, NodeDb>, queue = QUEUE) {
    this.nodes = nodes;
    this.queue = queue;
  }

  admin(name: string, extra: Partial<ConstructorParameters<typeof CascadeAdmin>[0]> = {}): CascadeAdmin {
    return new CascadeAdmin({
      queue: this.queue,
      localLocation: this.nodes[name]!.url,
      waitTimeoutMs: 90_000,
      pollMs: 100,
      ...extra,
    });
  }

  async withAdmin<T>(name: string, fn: (a: CascadeAdmin) => Promise<T>, extra = {}): Promise<T> {
    const a = this.admin(name, extra);
    try {
      return await fn(a);
    } finally {
      await a.close();
    }
  }

  /** root → branch → leaf with the given names; fast ticks on every queue. */
  async build(root: string, branch: string, leaf: string): Promise<void> {
    await this.withAdmin(root, (a) =>
      a.createNode('root', { nodeName: root, location: this.loc(root), worker: `w_${root}` }),
    );
    await this.tune(root);
    await this.withAdmin(branch, (a) =>
      a.createNode('branch', {
        nodeName: branch,
        location: this.loc(branch),
        worker: `w_${branch}`,
        provider: this.loc(root),
      }),
    );
    await this.tune(branch);
    await this.withAdmin(leaf, (a) =>
      a.createNode('leaf', {
        nodeName: leaf,
        location: this.loc(leaf),
        worker: `w_${leaf}`,
        provider: this.loc(branch),
      }),
    );
  }

  /** Creates the node's cascade_seen table and lets its worker record every user event into it. */
  async record(name: string): Promise<void> {
    await this.nodes[name]!.query(
      'create table cascade_seen (seq bigserial primary key, ev_id int8, data text)',
    );
    this.handlers[name] = recordingHandler;
  }

  loc(name: string): string {
    const n = this.nodes[name]!;
    return n.location ?? n.url;
  }

  /** Tick at most every 50 ms when there are events (the default waits up to 3 s). */
  async tune(name: string) {
    const db = this.nodes[name]!;
    await db.query("select pgq.set_queue_config($1, 'ticker_max_lag', '50 milliseconds')", [this.queue]);
    await db.query("select pgq.set_queue_config($1, 'ticker_idle_period', '1 second')", [this.queue]);
  }

  startWorker(name: string, handler = this.handlers[name]) {
    if (this.#workers.has(name)) return;
    const ctl = new AbortController();
    const worker = new CascadeWorker({
      queue: this.queue,
      worker: `w_${name}`,
      connectLocal: connectUrl(this.nodes[name]!.url),
      handler,
      loopDelayMs: 100,
      maxBackoffMs: 500,
      localWmPublishPeriodMs: 500,
      globalWmPublishPeriodMs: 500,
      signal: ctl.signal,
      ...this.workerPatch[name],
    });
    this.#workers.set(name, { ctl, worker, done: worker.run() });
  }

  async stopWorker(name: string) {
    const w = this.#workers.get(name);
    if (!w) return;
    this.#workers.delete(name);
    w.ctl.abort();
    await w.done;
  }

  worker(name: string): CascadeWorker | undefined {
    return this.#workers.get(name)?.worker;
  }

  startTicker(name: string) {
    if (this.#tickers.has(name)) return;
    const ctl = new AbortController();
    const done = runTicker({
      connect: connectUrl(this.nodes[name]!.url),
      tickPeriodMs: 50,
      signal: ctl.signal,
    });
    this.#tickers.set(name, { ctl, done });
  }

  async stopTicker(name: string) {
    const t = this.#tickers.get(name);
    if (!t) return;
    this.#tickers.delete(name);
    t.ctl.abort();
    await t.done;
  }

  startAll() {
    for (const n of Object.keys(this.nodes)) {
      this.startTicker(n);
      this.startWorker(n);
    }
  }

  async stopAll() {
    await Promise.all([...this.#workers.keys()].map((n) => this.stopWorker(n)));
    await Promise.all([...this.#tickers.keys()].map((n) => this.stopTicker(n)));
  }

  async info(name: string) {
    const c = await connectUrl(this.nodes[name]!.url)();
    try {
      return await getNodeInfo(c, this.queue);
    } finally {
      await c.end();
    }
  }

  /** The node that currently says it is the root (among the reachable ones). */
  async currentRoot(except: string[] = []): Promise<string> {
    for (const n of Object.keys(this.nodes)) {
      if (except.includes(n)) continue;
      try {
        if ((await this.info(n)).nodeType === 'root') return n;
      } catch {
        // unreachable node
      }
    }
    throw new Error('no root node found');
  }
}

export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Inserts consecutive numbers as events on whichever node is the root, retrying through a switchover. */
export class Producer {
  next = 1;
  done = false;
  #stop = false;
  #loop: Promise<void> | null = null;
  readonly cluster: Cluster;
  root: string;
  except: string[] = [];
  delayMs: number;

  constructor(cluster: Cluster, root: string, delayMs = 5) {
    this.cluster = cluster;
    this.root = root;
    this.delayMs = delayMs;
  }

  async one(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.cluster.nodes[this.root]!.query("select pgq.insert_event($1, 'ev', $2)", [
          this.cluster.queue,
          String(this.next),
        ]);
        this.next++;
        return;
      } catch (err) {
        if (attempt > 2000) throw err;
        await new Promise((r) => setTimeout(r, 20));
        try {
          this.root = await this.cluster.currentRoot(this.except);
        } catch {
          // mid-switchover: no root for a moment
        }
      }
    }
  }

  async many(n: number) {
    for (let i = 0; i < n; i++) await this.one();
  }

  start() {
    this.#loop = (async () => {
      while (!this.#stop) {
        await this.one();
        await new Promise((r) => setTimeout(r, this.delayMs));
      }
    })();
  }

  async stop() {
    this.#stop = true;
    await this.#loop;
    this.#stop = false;
  }

  /** Numbers produced so far: 1..last. */
  get last() {
    return this.next - 1;
  }
}

export async function seen(db: NodeDb): Promise<number[]> {
  const r = await db.query<{ data: string }>('select data from cascade_seen order by seq');
  return r.rows.map((x) => Number(x.data));
}

export const range = (a: number, b: number) =>
  Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);

export type Target = 'ours' | 'c-extension';

export interface OwnedNodeDb extends NodeDb {
  drop(): Promise<void>;
  /** Runs SQL as the server's admin (for allow_connections, pg_terminate_backend). */
  admin(sql: string): Promise<void>;
}

export interface ClusterFixture {
  /** Set before the file's tests run. */
  readonly c: Cluster;
  readonly dbs: OwnedNodeDb[];
}

/**
 * A cluster for one test file (or describe): before its tests, one fresh database per node name
 * (on `target`, or from `create`), the worker of `record` recording into cascade_seen, with
 * `build` root → branch → leaf created from the first three names, with `start` every worker and
 * ticker running; after them, everything stopped and dropped.
 */
export function useCluster(
  names: string[],
  o: {
    target?: Target;
    create?: () => Promise<OwnedNodeDb>;
    record?: string;
    build?: boolean;
    start?: boolean;
  } = {},
): ClusterFixture {
  const f = { c: null as unknown as Cluster, dbs: [] as OwnedNodeDb[] };
  beforeAll(async () => {
    const create = o.create ?? (() => createNodeDb(o.target ?? 'ours'));
    f.dbs = await Promise.all(names.map(() => create()));
    f.c = new Cluster(Object.fromEntries(names.map((n, i) => [n, f.dbs[i]!])));
    if (o.record) await f.c.record(o.record);
    if (o.build) await f.c.build(names[0]!, names[1]!, names[2]!);
    if (o.start) f.c.startAll();
  });
  afterAll(async () => {
    await f.c?.stopAll();
    await Promise.all(f.dbs.map((d) => d.drop()));
  });
  return f;
}

/** A fresh database on the target: a clone of our installed template, or one with the C extensions. */
export async function createNodeDb(target: Target): Promise<OwnedNodeDb> {
  if (target === 'ours') {
    const d = await createDatabase();
    const adminUrl = inject('pgAdminUrl');
    return {
      name: d.name,
      url: d.url,
      query: (sql, params) => d.pool.query(sql, params),
      drop: async () => {
        await runAdmin(adminUrl, `alter database ${d.name} allow_connections true`).catch(() => {});
        await d.drop();
      },
      admin: (sql) => runAdmin(adminUrl, sql),
    };
  }
  return compatServerDb('c-extension');
}

/**
 * A database on the Debian server of the compat tests (where python3-pgq and the C extensions
 * run), with the C extensions or with our SQL installed; `location` is its libpq string, as the
 * python tools store it.
 */
export async function compatServerDb(schema: Target): Promise<OwnedNodeDb> {
  const name = `cc_${schema === 'ours' ? 'py' : 'c'}_${randomBytes(5).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const url = urlFor(name);
  const pool = new pg.Pool({ connectionString: url, types: typeParsers, max: 6 });
  pool.on('error', () => {});
  if (schema === 'ours') {
    const c = await pool.connect();
    try {
      await install(c);
    } finally {
      c.release();
    }
  } else {
    await pool.query('create extension pgq');
    await pool.query('create extension pgq_node');
  }
  return {
    name,
    url,
    location: schema === 'ours' ? `${libpqBase()} dbname=${name}` : undefined,
    query: (sql, params) => pool.query(sql, params),
    drop: async () => {
      await pool.end();
      await adminQuery(`alter database ${name} allow_connections true`).catch(() => {});
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
    admin: adminQuery,
  };
}

async function runAdmin(url: string, sql: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The user events ('ev') stored in a node's queue, by id — via the queue's own parent table (ours and C). */
export async function queueEvents(db: NodeDb, queue: string): Promise<{ ev_id: bigint; ev_data: string }[]> {
  const pfx = (await db.query('select queue_data_pfx from pgq.queue where queue_name = $1', [queue])).rows[0]
    ?.queue_data_pfx;
  if (!pfx) return [];
  const [schema, table] = String(pfx).split('.');
  const r = await db.query(
    `select ev_id, ev_data from ${quoteIdent(schema!)}.${quoteIdent(table!)} where ev_type = 'ev' order by ev_id`,
  );
  return r.rows as { ev_id: bigint; ev_data: string }[];
}
