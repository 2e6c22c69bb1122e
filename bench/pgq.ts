// PgQ producer benchmark: our PL/pgSQL insert_event and bulk insert against the C extension,
// on the same server, in the same run. Each measurement is N operations in one transaction
// (rolled back), repeated, alternating ours and C so both see the same machine load; the
// median is reported.
import pg from 'pg';
import { install } from '../layers/install/installer.ts';

export interface BenchRow {
  name: string;
  oursUsPerOp: number;
  cUsPerOp: number;
  /** ours ÷ C: below 1 means we are faster. */
  ratio: number;
}

export interface BenchDbs {
  ours: pg.Client;
  c: pg.Client;
  urls: { ours: string; c: string };
  cleanup(): Promise<void>;
}

/** Creates two fresh databases on the server at adminUrl: one with the C extension, one with ours. */
export async function createBenchDbs(adminUrl: string, tag: string): Promise<BenchDbs> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const suffix = `${tag}_${process.pid}`;
  const names = { c: `bench_c_${suffix}`, ours: `bench_ours_${suffix}` };
  for (const n of Object.values(names)) {
    await admin.query(`drop database if exists ${n} with (force)`);
    await admin.query(`create database ${n}`);
  }
  const urlOf = (db: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${db}`;
    return u.toString();
  };
  const open = async (db: string) => {
    const cl = new pg.Client({ connectionString: urlOf(db) });
    await cl.connect();
    return cl;
  };
  const c = await open(names.c);
  const ours = await open(names.ours);
  await c.query('create extension pgq');
  await install(ours);
  return {
    ours,
    c,
    urls: { ours: urlOf(names.ours), c: urlOf(names.c) },
    async cleanup() {
      await ours.end();
      await c.end();
      for (const n of Object.values(names)) await admin.query(`drop database if exists ${n} with (force)`);
      await admin.end();
    },
  };
}

async function timeTx(client: pg.Client, sql: string, params: unknown[] = []): Promise<number> {
  await client.query('begin');
  const t0 = process.hrtime.bigint();
  await client.query(sql, params);
  const t1 = process.hrtime.bigint();
  await client.query('rollback');
  return Number(t1 - t0) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs sqlOurs / sqlC `reps` times alternately; returns µs per op (median). */
export async function compare(
  dbs: BenchDbs,
  name: string,
  ops: number,
  sqlOurs: string,
  sqlC: string,
  reps = 5,
  params: unknown[] = [],
): Promise<BenchRow> {
  // warm-up: plan caches, buffers
  await timeTx(dbs.ours, sqlOurs, params);
  await timeTx(dbs.c, sqlC, params);
  const ours: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < reps; i++) {
    ours.push((await timeTx(dbs.ours, sqlOurs, params)) / ops);
    c.push((await timeTx(dbs.c, sqlC, params)) / ops);
  }
  const row = { name, oursUsPerOp: median(ours), cUsPerOp: median(c), ratio: 0 };
  row.ratio = row.oursUsPerOp / row.cUsPerOp;
  return row;
}

export async function benchProducer(opts: {
  adminUrl: string;
  events: number;
  reps?: number;
}): Promise<BenchRow[]> {
  const dbs = await createBenchDbs(opts.adminUrl, 'producer');
  try {
    for (const cl of [dbs.ours, dbs.c]) await cl.query("select pgq.create_queue('bench')");
    const n = opts.events;
    const data = 'x'.repeat(100);
    const single = `select count(pgq.insert_event('bench', 'type', $1)) from generate_series(1, ${n})`;
    const rows: BenchRow[] = [];
    rows.push(await compare(dbs, 'insert_event (100-byte data)', n, single, single, opts.reps, [data]));
    // Bulk: ours inserts the whole array with one call; the baseline is C's single insert_event.
    const bulk = `select pgq.insert_event_bulk('bench', 'type', array_fill($1::text, array[${n}]))`;
    rows.push(await compare(dbs, 'insert_event_bulk vs C insert_event', n, bulk, single, opts.reps, [data]));
    return rows;
  } finally {
    await dbs.cleanup();
  }
}
