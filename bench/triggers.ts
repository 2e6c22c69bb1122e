// Trigger benchmark: cost of a single-row INSERT into a 5-column table with pgq.jsontriga,
// pgq.logutriga or pgq.sqltriga attached, ours (PL/pgSQL) against the C triggers of
// postgresql-NN-pgq3, on the same server. Each database must already have PgQ installed
// (C: `create extension pgq`; ours: sql/install.sql). The rows are inserted one statement at
// a time by a PL/pgSQL loop inside one transaction (rolled back), so client round trips do not
// blur the comparison; the reported cost includes the INSERT itself.
import pg from 'pg';

export interface TriggerBenchRow {
  name: string;
  oursUsPerOp: number;
  cUsPerOp: number;
  ratio: number;
}

const TRIGGERS = ['jsontriga', 'logutriga', 'sqltriga'] as const;
const QUEUE = 'bench_triggers_q';
const TABLE = 'bench_triggers_t';

async function setup(client: pg.Client): Promise<void> {
  await client.query('set client_min_messages = warning');
  await client.query(
    `select pgq.create_queue('${QUEUE}') where not exists (select 1 from pgq.queue where queue_name = '${QUEUE}')`,
  );
  await client.query(`drop table if exists ${TABLE}`);
  await client.query(
    `create table ${TABLE} (id int8 primary key, name text, qty int4, price numeric, created timestamptz)`,
  );
}

async function timeInserts(client: pg.Client, trigger: string | null, rows: number): Promise<number> {
  await client.query(`drop trigger if exists bench_tg on ${TABLE}`);
  if (trigger) {
    await client.query(
      `create trigger bench_tg after insert on ${TABLE} for each row execute procedure pgq.${trigger}('${QUEUE}')`,
    );
  }
  await client.query('begin');
  try {
    const t0 = process.hrtime.bigint();
    await client.query(
      `do $$ begin for i in 1..${rows} loop
         insert into ${TABLE} values (i, 'name ' || i, i % 100, i * 1.25, '2024-01-01 10:00:00+00'::timestamptz + i * interval '1 second');
       end loop; end $$`,
    );
    const t1 = process.hrtime.bigint();
    return Number(t1 - t0) / 1000 / rows;
  } finally {
    await client.query('rollback');
  }
}

async function teardown(client: pg.Client): Promise<void> {
  await client.query(`drop table if exists ${TABLE}`);
  await client.query(`select pgq.drop_queue('${QUEUE}', true)`).catch(() => {});
}

/** Median over `rounds` alternating runs (C, ours, C, ours, ...) to even out machine noise. */
export async function benchTriggers(opts: {
  cUrl: string;
  oursUrl: string;
  rows: number;
  rounds?: number;
}): Promise<TriggerBenchRow[]> {
  const rounds = opts.rounds ?? 3;
  const c = new pg.Client({ connectionString: opts.cUrl });
  const ours = new pg.Client({ connectionString: opts.oursUrl });
  await c.connect();
  await ours.connect();
  try {
    await setup(c);
    await setup(ours);
    // warm-up: plans, caches, our generated encoders
    for (const t of TRIGGERS) {
      await timeInserts(c, t, Math.min(opts.rows, 1000));
      await timeInserts(ours, t, Math.min(opts.rows, 1000));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
    const result: TriggerBenchRow[] = [];
    for (const t of [null, ...TRIGGERS]) {
      const cs: number[] = [];
      const os: number[] = [];
      for (let r = 0; r < rounds; r++) {
        cs.push(await timeInserts(c, t, opts.rows));
        os.push(await timeInserts(ours, t, opts.rows));
      }
      const cUs = median(cs);
      const oursUs = median(os);
      result.push({
        name: t ? `insert with pgq.${t}` : 'insert without trigger',
        oursUsPerOp: Math.round(oursUs * 100) / 100,
        cUsPerOp: Math.round(cUs * 100) / 100,
        ratio: Math.round((oursUs / cUs) * 100) / 100,
      });
    }
    await teardown(c);
    await teardown(ours);
    return result;
  } finally {
    await c.end();
    await ours.end();
  }
}
