// `npm run bench -- [suite ...]`: side-by-side benchmarks against the originals, measured in the
// same run on the same server. Prints a table; never fails on timings (benchmarks are not tests).
// Suites: pgq (producer + triggers + ticker pass), triggers (every trigger workload + pgbench-like
// producer), ticker (the ticker pass over 10 … 5,000 queues), consumer (drain rate, latency),
// londiste (add-table, drain, producer: ours vs londiste3, native logical replication, raw COPY),
// wal, xmin (the batch cycle with and without a held xmin). Default: pgq.
import { type BenchRow, benchProducer, createBenchDbs } from './pgq.ts';

// Suites contributed as separate modules are loaded by path, so a missing one is reported at
// run time instead of breaking the type check of the others.
const optionalModule = (p: string) => p;

const C_URL = process.env.PGQ_C_URL ?? 'postgres://root@localhost/postgres?host=/var/run/postgresql';

function printRows(title: string, rows: BenchRow[]) {
  console.log(`\n${title}`);
  console.log(
    `${'operation'.padEnd(44)} ${'ours µs/op'.padStart(11)} ${'C µs/op'.padStart(9)} ${'ours÷C'.padStart(7)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(44)} ${r.oursUsPerOp.toFixed(2).padStart(11)} ${r.cUsPerOp.toFixed(2).padStart(9)} ${r.ratio.toFixed(2).padStart(7)}`,
    );
  }
}

async function suitePgq() {
  const events = Number(process.env.BENCH_EVENTS ?? 50_000);
  console.log(
    `PgQ producers: ${events} operations per transaction, server ${C_URL.replace(/:[^:@/]*@/, ':***@')}`,
  );
  printRows('producer', await benchProducer({ adminUrl: C_URL, events }));
  const dbs = await createBenchDbs(C_URL, 'triggers');
  try {
    const { benchTriggers } = (await import(optionalModule('./triggers.ts'))) as {
      benchTriggers: (o: { cUrl: string; oursUrl: string; rows: number }) => Promise<BenchRow[]>;
    };
    printRows(
      'triggers (single-row INSERT into a 5-column table)',
      await benchTriggers({ cUrl: dbs.urls.c, oursUrl: dbs.urls.ours, rows: events }),
    );
  } catch (err) {
    console.log(`triggers: not run (${(err as Error).message})`);
  } finally {
    await dbs.cleanup();
  }
  await suiteTicker();
}

/** One pgq.ticker() pass over 10 … 5,000 queues, ours and C (BENCH_TICKER_QUEUES). */
async function suiteTicker() {
  const { benchTickerPass, printPassRows } = await import('./ticker.ts');
  const sizes = (process.env.BENCH_TICKER_QUEUES ?? '10,100,1000,5000').split(',').map(Number);
  const rows = await benchTickerPass({
    adminUrl: C_URL,
    sizes,
    onRow: (r) =>
      console.error(
        `ticker pass: ${r.queues} queues ${r.case}: ours ${r.oursMs.toFixed(2)} ms, C ${r.cMs.toFixed(2)} ms`,
      ),
  });
  printPassRows(rows);
}

// Triggers against the C ones: every table × workload × trigger, then the pgbench-like producer.
async function suiteTriggers() {
  const rows = Number(process.env.BENCH_TRIGGER_ROWS ?? 10_000);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const dbs = await createBenchDbs(C_URL, 'trg');
  try {
    const { benchTriggerMatrix, benchProducerTps } = await import('./triggers.ts');
    console.log(
      `\ntriggers: µs per row (statement included), ${rows} rows, best of ${rounds} alternating runs`,
    );
    console.log(
      `${'table workload, trigger'.padEnd(44)} ${'ours µs/row'.padStart(11)} ${'C µs/row'.padStart(9)} ${'ours÷C'.padStart(7)}   CPU: ${'ours'.padStart(7)} ${'C'.padStart(7)} ${'ours÷C'.padStart(7)}`,
    );
    await benchTriggerMatrix({
      cUrl: dbs.urls.c,
      oursUrl: dbs.urls.ours,
      rows,
      rounds,
      ...(process.env.BENCH_TRIGGERS ? { triggers: process.env.BENCH_TRIGGERS.split(',') as never } : {}),
      onRow: (r) =>
        console.log(
          `${r.name.padEnd(44)} ${r.oursUsPerOp.toFixed(2).padStart(11)} ${r.cUsPerOp.toFixed(2).padStart(9)} ${r.ratio.toFixed(2).padStart(7)}` +
            (r.cpuRatio === undefined
              ? ''
              : `        ${r.oursCpuUs?.toFixed(2).padStart(7)} ${r.cCpuUs?.toFixed(2).padStart(7)} ${r.cpuRatio.toFixed(2).padStart(7)}`),
        ),
    });
    const seconds = Number(process.env.BENCH_TPS_SECONDS ?? 5);
    console.log(`\nproducer (pgbench, ${seconds} s per run, best of 3 alternating runs): tps`);
    console.log(
      `${'transaction'.padEnd(64)} ${'ours'.padStart(7)} ${'C'.padStart(7)} ${'ours÷C'.padStart(7)}`,
    );
    await benchProducerTps({
      cUrl: dbs.urls.c,
      oursUrl: dbs.urls.ours,
      seconds,
      onRow: (r) =>
        console.log(
          `${r.name.padEnd(64)} ${String(r.oursTps).padStart(7)} ${String(r.cTps).padStart(7)} ${r.ratio.toFixed(2).padStart(7)}`,
        ),
    }).catch((err: Error) => console.log(`producer: not run (${err.message})`));
  } finally {
    await dbs.cleanup();
  }
}

const SUITES: Record<string, () => Promise<void>> = {
  pgq: suitePgq,
  triggers: suiteTriggers,
  // The ticker pass alone (also part of pgq).
  ticker: suiteTicker,
  consumer: async () => {
    const { benchConsumer } = await import('./consumer.ts');
    await benchConsumer({
      adminUrl: C_URL,
      events: Number(process.env.BENCH_EVENTS ?? 1_000_000),
      latencySeconds: Number(process.env.BENCH_LATENCY_SECONDS ?? 10),
      drain: process.env.BENCH_DRAIN !== '0',
      ...(process.env.BENCH_LATENCY ? { setups: process.env.BENCH_LATENCY.split(',') } : {}),
    });
  },
  londiste: async () => {
    const only = process.env.BENCH_ONLY;
    // compare/repair (issue #12): BENCH_ONLY=compare runs it alone, no BENCH_ONLY after the rest.
    if (only !== 'compare') {
      const { benchLondiste } = await import('./londiste.ts');
      await benchLondiste({
        adminUrl: C_URL,
        rows: Number(process.env.BENCH_ROWS ?? 1_000_000),
        events: Number(process.env.BENCH_EVENTS ?? 100_000),
        rounds: Number(process.env.BENCH_ROUNDS ?? 2),
        clients: Number(process.env.BENCH_CLIENTS ?? 8),
      });
    }
    if (only && only !== 'compare') return; // another part alone (BENCH_ONLY=copy)
    const { benchLondisteCompare } = await import('./londiste-compare.ts');
    await benchLondisteCompare({
      adminUrl: C_URL,
      rows: Number(process.env.BENCH_ROWS ?? 1_000_000),
      rounds: Number(process.env.BENCH_ROUNDS ?? 2),
    });
  },
  xmin: async () => {
    const { benchXmin, printXmin } = await import('./xmin.ts');
    const cycles = Number(process.env.BENCH_XMIN_CYCLES ?? 2000);
    const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
    for (const heldXmin of [false, true]) {
      const r = await benchXmin({
        adminUrl: C_URL,
        cycles,
        rounds,
        heldXmin,
        onRound: (side, round, s) =>
          console.error(`xmin ${heldXmin}: ${side} round ${round}: ${s.toFixed(2)} s`),
      });
      printXmin(r);
    }
  },
  wal: async () => {
    const mod = (await import(optionalModule('./wal.ts'))) as {
      benchWal: (o: Record<string, unknown>) => Promise<unknown>;
    };
    await mod.benchWal({});
  },
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted.length ? wanted : ['pgq']) {
  const suite = SUITES[name];
  if (!suite) {
    console.error(`unknown bench suite "${name}"; known: ${Object.keys(SUITES).join(', ')}`);
    process.exitCode = 2;
    continue;
  }
  await suite();
}
