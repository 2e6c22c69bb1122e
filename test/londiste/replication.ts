// A Londiste set for tests: one database per node (root, then leaves/branches below it), the
// cascade created with the cascade admin, a ticker per node and Londiste workers whose copy jobs
// run in-process (InProcessLauncher) — what `skytools pgqd` and `skytools londiste <ini> worker`
// run, minus the processes.
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { CascadeAdmin } from '../../layers/cascade/admin.ts';
import { typeParsers } from '../../layers/db/connection.ts';
import { install } from '../../layers/install/installer.ts';
import { InProcessLauncher } from '../../layers/londiste/launcher.ts';
import { LondisteWorker, type LondisteWorkerOptions } from '../../layers/londiste/worker.ts';
import { runTicker } from '../../layers/pgq/ticker.ts';
import { createLogger, silentLogger } from '../../layers/util/log.ts';

const testLog = process.env.LONDISTE_TEST_LOG
  ? createLogger({ level: process.env.LONDISTE_TEST_LOG === 'debug' ? 'debug' : 'info' })
  : silentLogger;

import { createDatabase, type TestDb } from '../support/db.ts';

export const QUEUE = 'lq';

export function connectUrl(url: string): () => Promise<pg.Client> {
  return async () => {
    const c = new pg.Client({ connectionString: url, types: typeParsers, connectionTimeoutMillis: 5000 });
    c.on('error', () => {});
    await c.connect();
    return c;
  };
}

type Db = TestDb & { drop(): Promise<void> };

interface Running {
  ctl: AbortController;
  done: Promise<unknown>;
  worker: LondisteWorker;
  launcher: InProcessLauncher;
}

export class LondisteSet {
  readonly dbs: Record<string, Db>;
  /** The set's queue (several sets may share a database: a merge-leaf has one per partition). */
  readonly queue: string;
  readonly workers = new Map<string, Running>();
  readonly tickers = new Map<string, { ctl: AbortController; done: Promise<unknown> }>();
  /** Extra worker options per node (faults, limits). */
  patch: Record<string, Partial<LondisteWorkerOptions>> = {};
  /** Extra options for copy jobs per node. */
  copyPatch: Record<string, Partial<LondisteWorkerOptions>> = {};

  constructor(dbs: Record<string, Db>, queue = QUEUE) {
    this.dbs = dbs;
    this.queue = queue;
  }

  db(name: string): Db {
    const d = this.dbs[name];
    if (!d) throw new Error(`no node ${name}`);
    return d;
  }

  async admin<T>(name: string, fn: (a: CascadeAdmin) => Promise<T>): Promise<T> {
    const a = new CascadeAdmin({
      queue: this.queue,
      localLocation: this.db(name).url,
      waitTimeoutMs: 60_000,
      pollMs: 100,
    });
    try {
      return await fn(a);
    } finally {
      await a.close();
    }
  }

  /** Root `root`, then each [name, type, provider] in order. */
  async build(root: string, below: [string, 'branch' | 'leaf', string][]) {
    await this.admin(root, (a) =>
      a.createNode('root', { nodeName: root, location: this.db(root).url, worker: `w_${root}` }),
    );
    await this.tune(root);
    for (const [name, type, provider] of below) {
      await this.admin(name, (a) =>
        a.createNode(type, {
          nodeName: name,
          location: this.db(name).url,
          worker: `w_${name}`,
          provider: this.db(provider).url,
        }),
      );
      if (type === 'branch') await this.tune(name);
    }
  }

  async tune(name: string) {
    await this.db(name).query("select pgq.set_queue_config($1, 'ticker_max_lag', '50 milliseconds')", [
      this.queue,
    ]);
    await this.db(name).query("select pgq.set_queue_config($1, 'ticker_idle_period', '1 second')", [
      this.queue,
    ]);
  }

  workerOptions(name: string, extra: Partial<LondisteWorkerOptions> = {}): LondisteWorkerOptions {
    return {
      queue: this.queue,
      worker: `w_${name}`,
      connectLocal: connectUrl(this.db(name).url),
      loopDelayMs: 100,
      maxBackoffMs: 300,
      localWmPublishPeriodMs: 500,
      globalWmPublishPeriodMs: 500,
      relaunchIntervalMs: 500,
      log: testLog.child({ node: name }),
      ...extra,
    };
  }

  startWorker(name: string) {
    if (this.workers.has(name)) return;
    const ctl = new AbortController();
    const launcher = new InProcessLauncher((table, signal) =>
      new LondisteWorker(
        this.workerOptions(name, { copyTable: table, signal, ...this.copyPatch[name] }),
      ).run(),
    );
    const worker = new LondisteWorker(
      this.workerOptions(name, { launcher, signal: ctl.signal, ...this.patch[name] }),
    );
    this.workers.set(name, { ctl, worker, launcher, done: worker.run() });
  }

  async stopWorker(name: string) {
    const w = this.workers.get(name);
    if (!w) return;
    this.workers.delete(name);
    w.ctl.abort();
    await w.done;
    await w.launcher.close();
  }

  startTicker(name: string) {
    if (this.tickers.has(name)) return;
    const ctl = new AbortController();
    const done = runTicker({
      connect: connectUrl(this.db(name).url),
      tickPeriodMs: 50,
      signal: ctl.signal,
      log: silentLogger,
    });
    this.tickers.set(name, { ctl, done });
  }

  startAll() {
    for (const n of Object.keys(this.dbs)) {
      this.startTicker(n);
      this.startWorker(n);
    }
  }

  async stopAll() {
    await Promise.all([...this.workers.keys()].map((n) => this.stopWorker(n)));
    await Promise.all(
      [...this.tickers.entries()].map(async ([n, t]) => {
        this.tickers.delete(n);
        t.ctl.abort();
        await t.done;
      }),
    );
  }

  async tableState(node: string, table: string): Promise<string | null | undefined> {
    const r = await this.db(node).query(
      'select merge_state, local from londiste.get_table_list($1) where table_name = $2',
      [this.queue, table],
    );
    return r.rows[0]?.local ? r.rows[0].merge_state : undefined;
  }

  /** Waits until the node has the table registered (its provider's add reached it). */
  async knows(node: string, table: string, timeoutMs = 60_000) {
    await waitUntil(
      `${node} knows ${table}`,
      async () =>
        (
          await this.db(node).query('select 1 from londiste.get_table_list($1) where table_name = $2', [
            this.queue,
            table,
          ])
        ).rows.length > 0,
      timeoutMs,
    );
  }

  /** londiste.local_add_table on the node; a result other than 200 is an error. */
  async addTable(node: string, table: string) {
    const r = await this.db(node).one('select * from londiste.local_add_table($1, $2)', [this.queue, table]);
    if (r.ret_code !== 200) throw new Error(`add ${table} on ${node}: ${r.ret_code} ${r.ret_note}`);
  }

  /** Waits until the table is `ok` (copied, replaying) on the node. */
  async waitOk(node: string, table: string, timeoutMs = 60_000) {
    await waitUntil(
      `${table} ok on ${node}`,
      async () => (await this.tableState(node, table)) === 'ok',
      timeoutMs,
    );
  }

  /**
   * Adds the table on `root` and on each of `nodes` in order (each once it knows the table), then
   * waits until it is `ok` on every one of them: the usual start of a replication test.
   */
  async replicate(table: string, nodes: string[] = ['leaf'], root = 'root', timeoutMs = 60_000) {
    await this.addTable(root, table);
    for (const n of nodes) {
      await this.knows(n, table, timeoutMs);
      await this.addTable(n, table);
    }
    for (const n of nodes) await this.waitOk(n, table, timeoutMs);
  }

  /** count + an order-independent checksum of every row's text. */
  async fingerprint(node: string, table: string): Promise<{ n: string; sum: string | null }> {
    const r = await this.db(node).query(
      `select count(*)::text as n, sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint)::text as sum from ${table} t`,
    );
    return r.rows[0];
  }

  /** Waits until the node's worker has replayed everything the root has now. */
  async caughtUp(node: string, root: string, timeoutMs = 60_000) {
    const tick = await this.db(root).one('select pgq.force_tick($1) as t, (select pgq.ticker($1)) as x', [
      this.queue,
    ]);
    void tick;
    const last = await this.db(root).one(
      `select max(tick_id) as t from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where q.queue_name = $1`,
      [this.queue],
    );
    await waitUntil(
      `${node} reaches tick ${last.t}`,
      async () => {
        const r = await this.db(node).query(
          'select last_tick_id from pgq_node.local_state where queue_name = $1 and consumer_name = $2',
          [this.queue, `w_${node}`],
        );
        return r.rows.length > 0 && BigInt(r.rows[0].last_tick_id) >= BigInt(last.t);
      },
      timeoutMs,
    );
  }
}

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Databases for the given node names, with the londiste schema; everything stopped and dropped after. */
export function useLondisteSet(names: string[]): { s: LondisteSet } {
  const f = { s: null as unknown as LondisteSet };
  beforeAll(async () => {
    const dbs = await Promise.all(names.map(() => createDatabase()));
    for (const d of dbs) {
      const has = await d.query("select 1 from pg_namespace where nspname = 'londiste'");
      if (!has.rows.length) {
        const c = await d.connect();
        await install(c, { manifest: 'londiste/install.sql' });
      }
    }
    f.s = new LondisteSet(Object.fromEntries(names.map((n, i) => [n, dbs[i]!])));
  });
  afterAll(async () => {
    await f.s?.stopAll();
    await Promise.all(Object.values(f.s?.dbs ?? {}).map((d) => d.drop()));
  });
  return f;
}
