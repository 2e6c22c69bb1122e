// Ticker pass cost against the number of queues (issue 16, item 3): one `select pgq.ticker()` over
// N queues, ours and the C extension in the same run, alternating, median of 5, inside one session
// (as pgqd runs it). Two cases, both with no tick due (every queue's ticker_max_lag set to an hour
// after a first pass, so neither a count, a lag nor the idle back-off makes one due):
//   idle:    no events since the last tick;
//   waiting: one event waiting in every queue.
import type pg from 'pg';
import { createBenchDbs } from './pgq.ts';

export interface PassRow {
  queues: number;
  case: 'idle' | 'waiting';
  oursMs: number;
  cMs: number;
  ratio: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Queues tq_<from> … tq_<to - 1>, each with ticker_max_lag an hour, CHUNK per transaction in one
 * round trip: one create_queue per transaction and round trip made 2 × 5,000 queues take longer
 * than a session. More than CHUNK in one transaction runs out of lock slots (a queue takes
 * several locks).
 */
async function createQueues(c: pg.Client, from: number, to: number, onChunk?: (done: number) => void) {
  for (let i = from; i < to; i += CHUNK) {
    const last = Math.min(to, i + CHUNK) - 1;
    // Simple protocol, two statements: one implicit transaction.
    await c.query(
      `select count(pgq.create_queue('tq_' || i)) from generate_series(${i}, ${last}) i;
       select count(pgq.set_queue_config('tq_' || i, 'ticker_max_lag', '1 hour')) from generate_series(${i}, ${last}) i`,
    );
    onChunk?.(last + 1);
  }
}
const CHUNK = 50;

async function timePass(c: pg.Client): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await c.query<{ n: string }>('select pgq.ticker() as n');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (Number(r.rows[0]!.n) !== 0)
    throw new Error(`a tick was due (${r.rows[0]!.n}); the case is not "nothing due"`);
  return ms;
}

export async function benchTickerPass(opts: {
  adminUrl: string;
  sizes: number[];
  /** Passes per side and case (default 21 up to 100 queues, 5 above); the median is printed. */
  reps?: number;
  /** Each row as soon as it is measured. */
  onRow?: (row: PassRow) => void;
}): Promise<PassRow[]> {
  const dbs = await createBenchDbs(opts.adminUrl, 'ticker');
  const rows: PassRow[] = [];
  let have = 0;
  try {
    for (const n of [...opts.sizes].sort((a, b) => a - b)) {
      const t0 = Date.now();
      const made = { ours: have, c: have };
      const say = () =>
        process.stderr.write(
          `\rticker pass: creating ${n} queues: ours ${made.ours}, C ${made.c} (${Math.round((Date.now() - t0) / 1000)} s)`.padEnd(
            70,
          ),
        );
      await Promise.all([
        createQueues(dbs.ours, have, n, (k) => {
          made.ours = k;
          say();
        }),
        createQueues(dbs.c, have, n, (k) => {
          made.c = k;
          say();
        }),
      ]);
      process.stderr.write(
        `\nticker pass: ${n - have} queues created on each side in ${Math.round((Date.now() - t0) / 1000)} s\n`,
      );
      have = n;
      // First passes: the new queues' second (idle) tick, then nothing is due for an hour.
      for (const cl of [dbs.ours, dbs.c]) {
        await cl.query('select pgq.ticker()');
        await cl.query('select pgq.ticker()');
      }
      for (const kase of ['idle', 'waiting'] as const) {
        if (kase === 'waiting') {
          // 200 queues per transaction: one statement over thousands runs out of locks.
          for (const cl of [dbs.ours, dbs.c]) {
            for (let i = 0; i < n; i += 200) {
              await cl.query(
                "select pgq.insert_event('tq_' || i, 'bench', 'x') from generate_series($1::int, $2::int) i",
                [i, Math.min(n, i + 200) - 1],
              );
            }
          }
        }
        await timePass(dbs.ours);
        await timePass(dbs.c);
        const ours: number[] = [];
        const c: number[] = [];
        // A pass over few queues takes a few ms, within the machine's noise: more of them.
        const reps = opts.reps ?? (n <= 100 ? 21 : 5);
        for (let i = 0; i < reps; i++) {
          ours.push(await timePass(dbs.ours));
          c.push(await timePass(dbs.c));
        }
        const row = { queues: n, case: kase, oursMs: median(ours), cMs: median(c), ratio: 0 };
        row.ratio = row.oursMs / row.cMs;
        rows.push(row);
        opts.onRow?.(row);
      }
    }
    process.stderr.write('\n');
    return rows;
  } finally {
    await dbs.cleanup();
  }
}

export function printPassRows(rows: PassRow[]) {
  console.log(
    '\nticker pass, one `select pgq.ticker()` with no tick due (median of 21 up to 100 queues, of 5 above; one session)',
  );
  console.log(
    `${'queues'.padStart(7)} ${'case'.padEnd(8)} ${'ours ms'.padStart(9)} ${'C ms'.padStart(9)} ${'ours÷C'.padStart(7)}`,
  );
  for (const r of rows) {
    console.log(
      `${String(r.queues).padStart(7)} ${r.case.padEnd(8)} ${r.oursMs.toFixed(2).padStart(9)} ${r.cMs.toFixed(2).padStart(9)} ${r.ratio.toFixed(2).padStart(7)}`,
    );
  }
}
