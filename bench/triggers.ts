// Trigger benchmark: the cost per row of pgq.jsontriga, pgq.logutriga and pgq.sqltriga, ours
// (PL/pgSQL) against the C triggers of postgresql-NN-pgq3, on the same server, in the same run.
// Each database must already have PgQ installed (C: `create extension pgq`; ours:
// sql/install.sql).
//
// Statement workloads (benchTriggerMatrix): a 5-column table and a 20-column table of mixed
// types (int, bigint, numeric, text with odd and non-ASCII characters, bool, timestamptz,
// date, bytea, json, arrays, jsonb, NULLs); per table, single-row INSERTs (a PL/pgSQL loop,
// one statement per row, so client round trips do not blur the comparison), one multi-row
// INSERT … SELECT, one UPDATE and one DELETE of every row. Every measurement runs in a
// transaction that is rolled back; the rows an UPDATE/DELETE needs are inserted first with
// session_replication_role = replica (the triggers do not fire), so only the measured
// statement fires them. Ours and C alternate, best of `rounds`; the cost includes the
// statement itself (the "no trigger" rows show that part).
//
// Producer (benchProducerTps): pgbench-like single-row transactions (UPDATE of a random row /
// INSERT of a new one) on a replicated-style table with pgq.logutriga, as Londiste sets it up,
// run by `pgbench` itself; tps ours against C, with synchronous_commit on (the default) and off.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

export interface TriggerBenchRow {
  name: string;
  oursUsPerOp: number;
  cUsPerOp: number;
  ratio: number;
  /** The backends' CPU time per row (from /proc, when the server runs on this host). */
  oursCpuUs?: number;
  cCpuUs?: number;
  cpuRatio?: number;
}

const TRIGGERS = ['jsontriga', 'logutriga', 'sqltriga'] as const;
const QUEUE = 'bench_triggers_q';

interface TableSpec {
  name: string;
  ddl: string;
  /** Row expression over i (a generate_series / loop integer). */
  values: string;
  /** The SET list of the UPDATE workload (changes two columns, not the key). */
  set: string;
}

const TABLES: Record<'t5' | 't20', TableSpec> = {
  t5: {
    name: 'bench_trg_t5',
    ddl: '(id int8 primary key, name text, qty int4, price numeric, created timestamptz)',
    values: `i, 'name ' || i, i % 100, i * 1.25, '2024-01-01 10:00:00+00'::timestamptz + i * interval '1 second'`,
    set: 'qty = qty + 1, price = price * 2',
  },
  t20: {
    name: 'bench_trg_t20',
    ddl: `(id int8 primary key, a int4, b bigint, c numeric, d text, e text, f boolean, g timestamptz, h date,
           i bytea, j json, k int4[], l text[], m text, n int4, o numeric, p boolean, q timestamptz, r text, s jsonb)`,
    values: `i, i % 1000, i * 100000000::bigint, i * 1.5, 'text ' || i,
             case when i % 2 = 0 then E'odd & = % + ''" \\\\ ü ' || i else 'plain text, ' || i end,
             i % 2 = 0, '2024-01-01 10:00:00+00'::timestamptz + i * interval '1 second', '2024-01-01'::date + i % 1000,
             '\\x00ff41'::bytea, '{"a": 1}'::json, array[i, 2, null], array['a b', 'c,d'],
             case when i % 3 = 0 then null else 'x' end, null, 3.14, null, '2024-06-01 12:00:00+00'::timestamptz,
             'plain', '{"b": [1, 2]}'::jsonb`,
    set: 'a = a + 1, m = m',
  },
};

const WORKLOADS = ['single-row INSERT', 'INSERT … SELECT', 'UPDATE', 'DELETE'] as const;
type Workload = (typeof WORKLOADS)[number];

async function setup(client: pg.Client): Promise<void> {
  await client.query('set client_min_messages = warning');
  await client.query(
    `select pgq.create_queue('${QUEUE}') where not exists (select 1 from pgq.queue where queue_name = '${QUEUE}')`,
  );
  for (const t of Object.values(TABLES)) {
    await client.query(`drop table if exists ${t.name}`);
    await client.query(`create table ${t.name} ${t.ddl}`);
  }
}

async function setTrigger(client: pg.Client, table: TableSpec, trigger: string | null): Promise<void> {
  await client.query(`drop trigger if exists bench_tg on ${table.name}`);
  if (trigger) {
    await client.query(
      `create trigger bench_tg after insert or update or delete on ${table.name} for each row execute procedure pgq.${trigger}('${QUEUE}')`,
    );
  }
}

// On a machine shared with other work, wall-clock time moves with the load; the backend's own CPU
// time (utime + stime in /proc/<pid>/stat, clock ticks of 10 ms) moves much less. Read when the
// server runs on this host; the statements are long enough (≥ 0.3 s) for the tick to matter little.
const backendPid = new WeakMap<pg.Client, number>();
async function cpuMs(client: pg.Client): Promise<number | null> {
  let pid = backendPid.get(client);
  if (pid === undefined) {
    pid = Number((await client.query('select pg_backend_pid() as p')).rows[0].p);
    backendPid.set(client, pid);
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

interface Timing {
  wallUs: number;
  cpuUs: number | null;
}

/** µs per row of one workload statement, in a transaction that is rolled back. */
async function timeWorkload(
  client: pg.Client,
  table: TableSpec,
  workload: Workload,
  rows: number,
): Promise<Timing> {
  await client.query('begin');
  try {
    let sql: string;
    if (workload === 'single-row INSERT') {
      sql = `do $$ begin for i in 1..${rows} loop insert into ${table.name} values (${table.values}); end loop; end $$`;
    } else if (workload === 'INSERT … SELECT') {
      sql = `insert into ${table.name} select ${table.values} from generate_series(1, ${rows}) i`;
    } else {
      await client.query('set local session_replication_role = replica');
      await client.query(
        `insert into ${table.name} select ${table.values} from generate_series(1, ${rows}) i`,
      );
      await client.query('set local session_replication_role = origin');
      sql = workload === 'UPDATE' ? `update ${table.name} set ${table.set}` : `delete from ${table.name}`;
    }
    const c0 = await cpuMs(client);
    const t0 = process.hrtime.bigint();
    await client.query(sql);
    const t1 = process.hrtime.bigint();
    const c1 = await cpuMs(client);
    return {
      wallUs: Number(t1 - t0) / 1000 / rows,
      cpuUs: c0 === null || c1 === null ? null : ((c1 - c0) * 1000) / rows,
    };
  } finally {
    await client.query('rollback');
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Every table × workload × trigger (and no trigger), ours against C, best of `rounds` alternating runs. */
export async function benchTriggerMatrix(opts: {
  cUrl: string;
  oursUrl: string;
  rows: number;
  rounds?: number;
  tables?: Array<keyof typeof TABLES>;
  workloads?: Workload[];
  /** Triggers to measure (default: all three); the "no trigger" baseline is always measured. */
  triggers?: Array<(typeof TRIGGERS)[number]>;
  onRow?: (row: TriggerBenchRow) => void;
}): Promise<TriggerBenchRow[]> {
  const rounds = opts.rounds ?? 5;
  const c = new pg.Client({ connectionString: opts.cUrl });
  const ours = new pg.Client({ connectionString: opts.oursUrl });
  await c.connect();
  await ours.connect();
  const result: TriggerBenchRow[] = [];
  try {
    await setup(c);
    await setup(ours);
    for (const tkey of opts.tables ?? (['t5', 't20'] as const)) {
      const table = TABLES[tkey];
      for (const trigger of [null, ...(opts.triggers ?? TRIGGERS)]) {
        await setTrigger(c, table, trigger);
        await setTrigger(ours, table, trigger);
        // warm-up: plans, caches, our generated encoder (committed, as in steady state)
        for (const cl of [c, ours]) {
          await cl.query(`insert into ${table.name} select ${table.values} from generate_series(1, 10) i`);
          await cl.query(`update ${table.name} set ${table.set}`);
          await cl.query(`delete from ${table.name}`);
        }
        for (const workload of opts.workloads ?? WORKLOADS) {
          let cBest = Number.POSITIVE_INFINITY;
          let oBest = Number.POSITIVE_INFINITY;
          let cCpu = Number.POSITIVE_INFINITY;
          let oCpu = Number.POSITIVE_INFINITY;
          for (let r = 0; r < rounds; r++) {
            const ct = await timeWorkload(c, table, workload, opts.rows);
            const ot = await timeWorkload(ours, table, workload, opts.rows);
            cBest = Math.min(cBest, ct.wallUs);
            oBest = Math.min(oBest, ot.wallUs);
            cCpu = Math.min(cCpu, ct.cpuUs ?? Number.NaN);
            oCpu = Math.min(oCpu, ot.cpuUs ?? Number.NaN);
          }
          const row: TriggerBenchRow = {
            name: `${tkey} ${workload}, ${trigger ? `pgq.${trigger}` : 'no trigger'}`,
            oursUsPerOp: round2(oBest),
            cUsPerOp: round2(cBest),
            ratio: round2(oBest / cBest),
            ...(Number.isFinite(cCpu) && Number.isFinite(oCpu) && cCpu > 0
              ? { oursCpuUs: round2(oCpu), cCpuUs: round2(cCpu), cpuRatio: round2(oCpu / cCpu) }
              : {}),
          };
          opts.onRow?.(row);
          result.push(row);
        }
      }
      await setTrigger(c, table, null);
      await setTrigger(ours, table, null);
    }
    for (const cl of [c, ours]) {
      for (const t of Object.values(TABLES)) await cl.query(`drop table if exists ${t.name}`);
      await cl.query(`select pgq.drop_queue('${QUEUE}', true)`).catch(() => {});
    }
    return result;
  } finally {
    await c.end();
    await ours.end();
  }
}

/** The `npm run bench -- pgq` form: single-row INSERTs into the 5-column table. */
export async function benchTriggers(opts: {
  cUrl: string;
  oursUrl: string;
  rows: number;
  rounds?: number;
}): Promise<TriggerBenchRow[]> {
  return benchTriggerMatrix({ ...opts, tables: ['t5'], workloads: ['single-row INSERT'] });
}

export interface TpsRow {
  name: string;
  oursTps: number;
  cTps: number;
  /** ours ÷ C: 1 is parity, above 1 ours is faster. */
  ratio: number;
}

const execFileP = promisify(execFile);

function findPgbench(): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/lib/postgresql/15/bin', '/usr/bin'])) {
    const p = join(dir, 'pgbench');
    if (dir && existsSync(p)) return p;
  }
  return null;
}

async function pgbenchTps(
  bin: string,
  url: string,
  script: string,
  seconds: number,
  clients: number,
  syncOff: boolean,
) {
  const env = { ...process.env, PGOPTIONS: syncOff ? '-c synchronous_commit=off' : '' };
  const { stdout } = await execFileP(
    bin,
    ['-n', '-f', script, '-T', String(seconds), '-c', String(clients), url],
    {
      env,
    },
  );
  const m = /tps = ([\d.]+)/.exec(stdout);
  if (!m?.[1]) throw new Error(`pgbench printed no tps: ${stdout}`);
  return Number(m[1]);
}

/**
 * pgbench-like producer: single-row UPDATE and INSERT transactions on a table with
 * pgq.logutriga (and without, for scale), ours against C, alternating, best of `rounds`.
 */
export async function benchProducerTps(opts: {
  cUrl: string;
  oursUrl: string;
  seconds?: number;
  rounds?: number;
  clients?: number;
  onRow?: (row: TpsRow) => void;
}): Promise<TpsRow[]> {
  const bin = findPgbench();
  if (!bin) throw new Error('pgbench not found (apt-get install postgresql-client)');
  const seconds = opts.seconds ?? 5;
  const rounds = opts.rounds ?? 3;
  const clients = opts.clients ?? 1;
  const accounts = 100_000;
  const dir = mkdtempSync(join(tmpdir(), 'bench-trg-'));
  const scripts = {
    UPDATE: join(dir, 'update.sql'),
    INSERT: join(dir, 'insert.sql'),
  };
  writeFileSync(
    scripts.UPDATE,
    `\\set aid random(1, ${accounts})\n\\set delta random(-5000, 5000)\n` +
      'update bench_acct set abalance = abalance + :delta, mtime = now() where aid = :aid;\n',
  );
  writeFileSync(
    scripts.INSERT,
    `\\set aid random(1, ${accounts})\n\\set delta random(-5000, 5000)\n` +
      "insert into bench_hist (aid, delta, mtime, note) values (:aid, :delta, now(), 'pgbench-like producer');\n",
  );
  const urls = { c: opts.cUrl, ours: opts.oursUrl };
  const result: TpsRow[] = [];
  try {
    for (const url of Object.values(urls)) {
      const cl = new pg.Client({ connectionString: url });
      await cl.connect();
      try {
        await cl.query('set client_min_messages = warning');
        await cl.query(
          `select pgq.create_queue('${QUEUE}') where not exists (select 1 from pgq.queue where queue_name = '${QUEUE}')`,
        );
        await cl.query('drop table if exists bench_acct, bench_hist');
        await cl.query(
          'create table bench_acct (aid int4 primary key, bid int4, abalance int4, filler char(84), mtime timestamptz)',
        );
        await cl.query(
          `insert into bench_acct select i, i / 1000, 0, '', now() from generate_series(1, ${accounts}) i`,
        );
        await cl.query(
          'create table bench_hist (hid bigserial primary key, aid int4, delta int4, mtime timestamptz, note text)',
        );
        await cl.query('vacuum analyze bench_acct');
      } finally {
        await cl.end();
      }
    }
    const setTrg = async (url: string, on: boolean) => {
      const cl = new pg.Client({ connectionString: url });
      await cl.connect();
      try {
        for (const t of ['bench_acct', 'bench_hist']) {
          await cl.query(`drop trigger if exists bench_tg on ${t}`);
          if (on) {
            await cl.query(
              `create trigger bench_tg after insert or update or delete on ${t} for each row execute procedure pgq.logutriga('${QUEUE}')`,
            );
          }
        }
      } finally {
        await cl.end();
      }
    };
    for (const trig of [false, true]) {
      await setTrg(urls.c, trig);
      await setTrg(urls.ours, trig);
      for (const syncOff of [false, true]) {
        for (const [kind, script] of Object.entries(scripts)) {
          let cBest = 0;
          let oBest = 0;
          for (let r = 0; r < rounds; r++) {
            cBest = Math.max(cBest, await pgbenchTps(bin, urls.c, script, seconds, clients, syncOff));
            oBest = Math.max(oBest, await pgbenchTps(bin, urls.ours, script, seconds, clients, syncOff));
          }
          const row: TpsRow = {
            name: `single-row ${kind}, ${trig ? 'pgq.logutriga' : 'no trigger'}, synchronous_commit ${syncOff ? 'off' : 'on'}`,
            oursTps: Math.round(oBest),
            cTps: Math.round(cBest),
            ratio: round2(oBest / cBest),
          };
          opts.onRow?.(row);
          result.push(row);
        }
      }
    }
    for (const url of Object.values(urls)) {
      const cl = new pg.Client({ connectionString: url });
      await cl.connect();
      await cl.query('drop table if exists bench_acct, bench_hist');
      await cl.end();
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
