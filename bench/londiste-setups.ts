// The replication setups the Londiste bench compares, each root/publisher → leaf/subscriber with
// the workload table, driven the way a user drives them:
//   ours       `skytools londiste` (CLI, worker process, copy job processes) + `skytools pgqd`,
//              on our SQL (sql/install.sql) on the Debian server
//   londiste3  python3-londiste's `londiste` + the original pgqd on the C pgq/pgq_node/londiste
//              extensions, same server
//   native     PUBLICATION / SUBSCRIPTION on the bench's wal_level = logical cluster
// Each: addTable (leaf table empty → in sync, seconds), stopConsumer, load (pgbench, tps), drain
// (consumer started → the load's last row is on the leaf, seconds), reset (back to empty, unsubscribed).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { install } from '../layers/install/installer.ts';
import {
  adminSql,
  client,
  countRows,
  createWorkloadTable,
  dropDbs,
  freshDbs,
  libpqOf,
  Proc,
  pgbenchLoad,
  rawPipe,
  runCmd,
  type Server,
  urlOf,
  waitFor,
} from './londiste-env.ts';

const CLI = path.resolve(import.meta.dirname, '../bin/skytools.js');
const QUEUE = 'lq';
const TIMEOUT_MS = 900_000;
// The databases' (and workers') name prefix: BENCH_DB_PREFIX=x keeps two runs on one server
// (e.g. this bench and the compare bench, which uses the same setups) out of each other's way.
const P = process.env.BENCH_DB_PREFIX ?? 'lbench';

export interface AddTableResult {
  seconds: number;
  rows: number;
  /** Offsets (s from the start) of what the leaf's log says happened, when it says it. */
  phases: { at: number; what: string }[];
}

export interface Setup {
  label: string;
  prepare(): Promise<void>;
  addTable(): Promise<AddTableResult>;
  stopConsumer(): Promise<void>;
  /** The load on the root; returns pgbench's tps. */
  load(script: string, events: number, clients: number): Promise<number>;
  /** Writes the marker row `id` on the root, starts the consumer; seconds until the leaf has it. */
  drain(markerId: number): Promise<number>;
  reset(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface SetupOptions {
  server: Server;
  rows: number;
  dir: string;
  clients: number;
}

/** Polls a leaf for the marker on one connection (a new one per poll would cost more than the poll). */
async function waitMarker(url: string, id: number, what: string): Promise<void> {
  const c = await client(url);
  try {
    await waitFor(
      what,
      async () => (await c.query('select 1 from public.t where id = $1', [id])).rowCount === 1,
      TIMEOUT_MS,
    );
  } finally {
    await c.end();
  }
}

export interface LondisteFlavour {
  label: string;
  tag: string;
  installSql(c: import('pg').Client): Promise<void>;
  /** argv of one `londiste <ini> …` call. */
  cmd(ini: string, args: string[]): [string, string[]];
  createRoot(ini: string, loc: string): string[];
  createLeaf(ini: string, loc: string, provider: string): string[];
  ticker(dir: string, base: string, dbs: string[]): [string, string[]];
  /** Lines of the leaf's log → phases (ours only; JSON lines). */
  parseLog?(text: string, since: number): { at: number; what: string }[];
}

export const oursFlavour: LondisteFlavour = {
  label: 'ours',
  tag: 'o',
  installSql: async (c) => {
    await install(c);
  },
  cmd: (ini, args) => [process.execPath, [CLI, 'londiste', ini, ...args]],
  createRoot: () => ['create-root'],
  createLeaf: () => ['create-leaf'],
  ticker: (dir, base, dbs) => {
    const ini = path.join(dir, 'pgqd-ours.ini');
    writeFileSync(ini, `[pgqd]\nbase_connstr = ${base}\ndatabase_list = ${dbs.join(',')}\n`);
    return [process.execPath, [CLI, 'pgqd', ini]];
  },
  parseLog: (text, since) => {
    const out: { at: number; what: string }[] = [];
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(line);
      } catch {
        continue;
      }
      const at = (Date.parse(String(j.time)) - since) / 1000;
      if (!(at >= 0)) continue;
      if (j.msg === 'table state') out.push({ at, what: `state ${j.state}${j.copy ? ' (copy job)' : ''}` });
      else if (j.msg === 'table copied')
        out.push({ at, what: `copied ${j.rows} rows: COPY ${j.copyMs} ms, index build ${j.buildMs} ms` });
      else if (typeof j.msg === 'string' && /copy|launch|handover|sync|catching/i.test(j.msg))
        out.push({ at, what: `${j.worker ?? ''}: ${j.msg}` });
    }
    return out;
  },
};

export const londiste3Flavour: LondisteFlavour = {
  label: 'londiste3',
  tag: 'l',
  installSql: async (c) => {
    await c.query('create extension pgq');
    await c.query('create extension pgq_node');
    await c.query('create extension londiste');
  },
  cmd: (ini, args) => ['/usr/bin/python3', ['/usr/bin/londiste', ini, ...args]],
  createRoot: (_ini, loc) => ['create-root', 'rootnode', loc],
  createLeaf: (_ini, loc, provider) => ['create-leaf', 'leafnode', loc, `--provider=${provider}`],
  ticker: (dir, base, dbs) => {
    const ini = path.join(dir, 'pgqd-c.ini');
    writeFileSync(
      ini,
      `[pgqd]\nbase_connstr = ${base}\ninitial_database = ${dbs[0]}\ndatabase_list = ${dbs.join(',')}\nlogfile = ${dir}/pgqd-c.log\npidfile = ${dir}/pgqd-c.pid\n`,
    );
    return ['pgqd', [ini]];
  },
};

/** A Londiste root → leaf (ours or the original), each tool at its default settings. */
export class LondisteSetup implements Setup {
  readonly label: string;
  readonly db: { root: string; leaf: string };
  readonly ini: { root: string; leaf: string };
  private readonly procs: { ticker?: Proc; root?: Proc; leaf?: Proc } = {};
  private leafLog: string;

  readonly f: LondisteFlavour;
  private readonly o: SetupOptions;

  constructor(f: LondisteFlavour, o: SetupOptions) {
    this.f = f;
    this.o = o;
    this.label = f.label;
    this.db = { root: `${P}_${f.tag}_root`, leaf: `${P}_${f.tag}_leaf` };
    this.ini = { root: path.join(o.dir, `${f.tag}-root.ini`), leaf: path.join(o.dir, `${f.tag}-leaf.ini`) };
    // The ini's logfile: ours writes its JSON lines there (the worker's and its copy jobs').
    this.leafLog = path.join(o.dir, `${f.tag}-leaf.log`);
  }

  url(node: 'root' | 'leaf') {
    return urlOf(this.o.server, this.db[node]);
  }

  /** One `londiste <ini> …` call on a node; its stdout + stderr (the compare bench runs these too). */
  async londiste(node: 'root' | 'leaf', ...args: string[]): Promise<string> {
    const [cmd, argv] = this.f.cmd(this.ini[node], args);
    const r = await runCmd(cmd, argv);
    return r.stdout + r.stderr;
  }

  private startWorker(node: 'root' | 'leaf'): Proc {
    const [cmd, argv] = this.f.cmd(this.ini[node], ['worker']);
    const log = path.join(this.o.dir, `${this.f.tag}-${node}-worker.out`);
    return new Proc(`${this.label} ${node} worker`, cmd, argv, log, { LOG_FORMAT: 'json' });
  }

  async prepare() {
    const s = this.o.server;
    await freshDbs(s, [this.db.root, this.db.leaf]);
    for (const node of ['root', 'leaf'] as const) {
      const c = await client(this.url(node));
      try {
        await this.f.installSql(c);
      } finally {
        await c.end();
      }
      await createWorkloadTable(this.url(node), node === 'root' ? this.o.rows : 0);
      const loc = this.f.tag === 'o' ? this.url(node) : libpqOf(s, this.db[node]);
      const lines = [
        '[londiste]',
        `job_name = ${P}_${this.f.tag}_${node}`,
        `queue_name = ${QUEUE}`,
        `db = ${loc}`,
        `node_name = ${node}node`,
        `logfile = ${this.o.dir}/${this.f.tag}-${node}.log`,
        `pidfile = ${this.o.dir}/${this.f.tag}-${node}.pid`,
      ];
      if (node === 'leaf')
        lines.push(
          `initial_provider_location = ${this.f.tag === 'o' ? this.url('root') : libpqOf(s, this.db.root)}`,
        );
      writeFileSync(this.ini[node], `${lines.join('\n')}\n`);
    }
    await this.londiste('root', ...this.f.createRoot(this.ini.root, libpqOf(s, this.db.root)));
    await this.londiste(
      'leaf',
      ...this.f.createLeaf(this.ini.leaf, libpqOf(s, this.db.leaf), libpqOf(s, this.db.root)),
    );
    await this.londiste('root', 'add-table', 'public.t');
    const [tcmd, targs] = this.f.ticker(this.o.dir, `host=${s.host} port=${s.port} user=${s.user}`, [
      this.db.root,
      this.db.leaf,
    ]);
    this.procs.ticker = new Proc(
      `${this.label} ticker`,
      tcmd,
      targs,
      path.join(this.o.dir, `${this.f.tag}-ticker.out`),
    );
    this.procs.root = this.startWorker('root');
    this.procs.leaf = this.startWorker('leaf');
  }

  private async leafState(): Promise<string | null | undefined> {
    const c = await client(this.url('leaf'));
    try {
      const r = await c.query(
        "select merge_state, local from londiste.get_table_list($1) where table_name = 'public.t'",
        [QUEUE],
      );
      return r.rows[0]?.local ? r.rows[0].merge_state : undefined;
    } finally {
      await c.end();
    }
  }

  private async lastTick(node: 'root' | 'leaf'): Promise<number> {
    const c = await client(this.url(node));
    try {
      const sql =
        node === 'root'
          ? 'select last_tick_id as t from pgq.get_queue_info($1)'
          : 'select last_tick_id as t from pgq_node.local_state where queue_name = $1 and consumer_name = $2';
      const r = await c.query(sql, node === 'root' ? [QUEUE] : [QUEUE, `${P}_${this.f.tag}_leaf`]);
      return Number(r.rows[0]?.t ?? 0);
    } finally {
      await c.end();
    }
  }

  async addTable(): Promise<AddTableResult> {
    const since = Date.now();
    const t0 = performance.now();
    await this.londiste('leaf', 'add-table', 'public.t');
    const added = (performance.now() - t0) / 1000;
    await waitFor(
      `${this.label}: public.t ok on the leaf`,
      async () => {
        if (this.procs.leaf && !this.procs.leaf.running)
          throw new Error(`${this.label} leaf worker exited:\n${this.procs.leaf.tail()}`);
        return (await this.leafState()) === 'ok';
      },
      TIMEOUT_MS,
      50,
    );
    // ok, and replay has reached the root's tick of that moment: nothing left to apply.
    const target = await this.lastTick('root');
    await waitFor(
      `${this.label}: leaf at tick ${target}`,
      async () => (await this.lastTick('leaf')) >= target,
      TIMEOUT_MS,
      50,
    );
    const seconds = (performance.now() - t0) / 1000;
    const phases = [{ at: added, what: 'add-table command returned' }];
    if (this.f.parseLog) phases.push(...this.f.parseLog(readFileSync(this.leafLog, 'utf8'), since));
    phases.push({ at: seconds, what: 'ok and caught up' });
    phases.sort((a, b) => a.at - b.at);
    return { seconds, rows: await countRows(this.url('leaf')), phases };
  }

  async stopConsumer() {
    await this.procs.leaf?.stop();
    this.procs.leaf = undefined;
  }

  load(script: string, events: number, clients: number) {
    return pgbenchLoad(this.o.server, this.db.root, script, events, clients);
  }

  async drain(markerId: number): Promise<number> {
    const c = await client(this.url('root'));
    try {
      await c.query("insert into public.t values ($1, 'marker', 0, now())", [markerId]);
      await c.query('select pgq.ticker()');
    } finally {
      await c.end();
    }
    const t0 = performance.now();
    this.procs.leaf = this.startWorker('leaf');
    await waitMarker(this.url('leaf'), markerId, `${this.label}: marker ${markerId} on the leaf`);
    return (performance.now() - t0) / 1000;
  }

  async reset() {
    await this.londiste('leaf', 'remove-table', 'public.t');
    await adminSqlOn(this.url('leaf'), 'truncate public.t');
  }

  async cleanup() {
    for (const p of [this.procs.leaf, this.procs.root, this.procs.ticker]) await p?.stop().catch(() => {});
    await dropDbs(this.o.server, [this.db.root, this.db.leaf]).catch(() => {});
  }
}

async function adminSqlOn(url: string, sql: string) {
  const c = await client(url);
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Native logical replication: publication on one database, subscription on another, one cluster. */
export class NativeSetup implements Setup {
  readonly label = 'native';
  private readonly pub = `${P}_n_pub`;
  private readonly sub = `${P}_n_sub`;
  private readonly slot = `${P}_s`;
  private readonly o: SetupOptions;
  constructor(o: SetupOptions) {
    this.o = o;
  }

  async prepare() {
    const s = this.o.server;
    await freshDbs(s, [this.pub, this.sub]);
    await createWorkloadTable(urlOf(s, this.pub), this.o.rows);
    await createWorkloadTable(urlOf(s, this.sub), 0);
    await adminSqlOn(urlOf(s, this.pub), `create publication ${P}_p for table public.t`);
  }

  async addTable(): Promise<AddTableResult> {
    const s = this.o.server;
    const t0 = performance.now();
    // One cluster: the slot cannot be made inside CREATE SUBSCRIPTION (it would wait for itself).
    await adminSqlOn(
      urlOf(s, this.pub),
      `select pg_create_logical_replication_slot('${this.slot}', 'pgoutput')`,
    );
    await adminSqlOn(
      urlOf(s, this.sub),
      // The subscription's worker is a server process (OS user postgres): peer auth wants that user.
      `create subscription ${this.slot} connection '${libpqOf({ ...s, user: 'postgres' }, this.pub)}' publication ${P}_p with (create_slot = false, slot_name = '${this.slot}')`,
    );
    const c = await client(urlOf(s, this.sub));
    try {
      await waitFor(
        'native: initial sync (pg_subscription_rel r)',
        async () =>
          (
            await c.query(
              "select 1 from pg_subscription_rel where srsubstate = 'r' and srrelid = 'public.t'::regclass",
            )
          ).rowCount === 1,
        TIMEOUT_MS,
        50,
      );
    } finally {
      await c.end();
    }
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, rows: await countRows(urlOf(s, this.sub)), phases: [] };
  }

  async stopConsumer() {
    const s = this.o.server;
    await adminSqlOn(urlOf(s, this.sub), `alter subscription ${this.slot} disable`);
    await waitFor(
      'native: slot released',
      async () =>
        (await adminSql(s, `select 1 from pg_replication_slots where slot_name = '${this.slot}' and active`))
          .rowCount === 0,
      60_000,
      50,
    );
  }

  load(script: string, events: number, clients: number) {
    return pgbenchLoad(this.o.server, this.pub, script, events, clients);
  }

  async drain(markerId: number): Promise<number> {
    const s = this.o.server;
    await adminSqlOn(urlOf(s, this.pub), `insert into public.t values (${markerId}, 'marker', 0, now())`);
    const t0 = performance.now();
    await adminSqlOn(urlOf(s, this.sub), `alter subscription ${this.slot} enable`);
    await waitMarker(urlOf(s, this.sub), markerId, `native: marker ${markerId} on the subscriber`);
    return (performance.now() - t0) / 1000;
  }

  async reset() {
    const s = this.o.server;
    await this.stopConsumer();
    await adminSqlOn(urlOf(s, this.sub), `alter subscription ${this.slot} set (slot_name = none)`);
    await adminSqlOn(urlOf(s, this.sub), `drop subscription ${this.slot}`);
    await adminSql(s, `select pg_drop_replication_slot('${this.slot}')`);
    await adminSqlOn(urlOf(s, this.sub), 'truncate public.t');
  }

  async cleanup() {
    const s = this.o.server;
    await adminSqlOn(urlOf(s, this.sub), `alter subscription ${this.slot} disable`).catch(() => {});
    await adminSqlOn(urlOf(s, this.sub), `alter subscription ${this.slot} set (slot_name = none)`).catch(
      () => {},
    );
    await adminSqlOn(urlOf(s, this.sub), `drop subscription if exists ${this.slot}`).catch(() => {});
    await dropDbs(s, [this.sub, this.pub]).catch(() => {});
  }
}

/** The raw pipe's two databases (no trigger on the source: also the load's "no trigger" baseline). */
export class RawPipe {
  readonly src = `${P}_raw_src`;
  readonly dst = `${P}_raw_dst`;
  private readonly o: SetupOptions;
  constructor(o: SetupOptions) {
    this.o = o;
  }
  async prepare() {
    await freshDbs(this.o.server, [this.src, this.dst]);
    await createWorkloadTable(urlOf(this.o.server, this.src), this.o.rows);
    await createWorkloadTable(urlOf(this.o.server, this.dst), 0);
  }
  async copy(): Promise<{ seconds: number; rows: number }> {
    await adminSqlOn(urlOf(this.o.server, this.dst), 'truncate public.t');
    const seconds = await rawPipe(this.o.server, this.src, this.dst);
    return { seconds, rows: await countRows(urlOf(this.o.server, this.dst)) };
  }
  load(script: string, events: number, clients: number) {
    return pgbenchLoad(this.o.server, this.src, script, events, clients);
  }
  cleanup() {
    return dropDbs(this.o.server, [this.src, this.dst]).catch(() => {});
  }
}
