// `BENCH_ONLY=copy npm run bench -- londiste` (issue #12 item 7): the copy of one table with 1 and
// with N COPY streams, through the copy job's own performTableCopy (the copy-job.ts paths: one
// transaction with FREEZE, or the key ranges under one exported snapshot), source and subscriber
// databases on the same server. Per round the stream counts alternate their order; each copy is
// checked (count + checksum) against the source. Printed: COPY seconds, index build seconds, the
// whole copy, rows/s in total and per stream, with the load average.
import pg from 'pg';
import { CascadeAdmin } from '../layers/cascade/admin.ts';
import { typeParsers } from '../layers/db/connection.ts';
import { install } from '../layers/install/installer.ts';
import { performTableCopy } from '../layers/londiste/copy-job.ts';
import { buildHandler } from '../layers/londiste/handlers/index.ts';
import { ReplayTable } from '../layers/londiste/table-state.ts';
import { getTableList, localAddTable, setTableState } from '../layers/londiste/tables.ts';
import { silentLogger } from '../layers/util/log.ts';
import {
  createWorkloadTable,
  dropDbs,
  freshDbs,
  loadAverage,
  type Server,
  serverFromUrl,
  TABLE_DDL,
  urlOf,
} from './londiste-env.ts';

export interface BenchCopyOptions {
  adminUrl: string;
  rows: number;
  rounds: number;
  /** Stream counts to compare (default 1 and 2). */
  streams: number[];
}

const QUEUE = 'lbench_copy';
const SRC = 'lbench_copy_src';
const DST = 'lbench_copy_dst';
const say = (m: string) => console.log(m);
const la = () => `load ${loadAverage()[0].toFixed(1)}`;

async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, types: typeParsers });
  c.on('error', () => {});
  await c.connect();
  return c;
}

const FINGERPRINT =
  "select count(*)::text as n, sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint)::text as sum from public.t t";

interface Run {
  /** Streams asked for (the copy may use fewer: a small table). */
  streams: number;
  used: number;
  copyS: number;
  buildS: number;
  totalS: number;
  vacuumS: number;
  rate: number;
  streamRates: number[];
}

export async function benchCopy(o: BenchCopyOptions): Promise<void> {
  const server: Server = serverFromUrl('debian', o.adminUrl);
  say(`Londiste copy: ${o.rows} rows, streams ${o.streams.join(' vs ')}, ${o.rounds} rounds; ${la()}`);
  await freshDbs(server, [SRC, DST]);
  const srcUrl = urlOf(server, SRC);
  const dstUrl = urlOf(server, DST);
  try {
    await createWorkloadTable(srcUrl, o.rows);
    const setup = await connect(dstUrl);
    try {
      await install(setup);
      await setup.query(TABLE_DDL);
    } finally {
      await setup.end();
    }
    const admin = new CascadeAdmin({ queue: QUEUE, localLocation: dstUrl });
    try {
      await admin.createNode('root', { nodeName: 'copydst', location: dstUrl, worker: 'copydst' });
    } finally {
      await admin.close();
    }
    const local = await connect(dstUrl);
    const provider = await connect(srcUrl);
    const want = (await provider.query(FINGERPRINT)).rows[0];
    await localAddTable(local, QUEUE, 'public.t');
    const runs: Run[] = [];
    try {
      for (let round = 0; round < o.rounds; round++) {
        const order = o.streams.map((_, i) => o.streams[(i + round) % o.streams.length] as number);
        say(`\nround ${round + 1}/${o.rounds}: ${order.join(', ')} streams`);
        for (const streams of order) {
          await setTableState(local, QUEUE, 'public.t', null, { name: 'in-copy' });
          const row = (await getTableList(local, QUEUE)).find((t) => t.tableName === 'public.t');
          if (!row) throw new Error('public.t not registered');
          await local.query('checkpoint');
          const started = performance.now();
          const res = await performTableCopy({
            queue: QUEUE,
            table: new ReplayTable(row),
            sourceTable: 'public.t',
            provider,
            local,
            handler: buildHandler('public.t'),
            log: silentLogger,
            dropFkeys: async () => {},
            streams,
            connectLocal: () => connect(dstUrl),
            connectProvider: () => connect(srcUrl),
          });
          const totalS = (performance.now() - started) / 1000;
          // What a copy without FREEZE leaves for later: the first VACUUM sets every page
          // all-visible (a FREEZE copy did that while loading). Timed before anything reads
          // the rows (a read would set the hint bits first).
          const vacStarted = performance.now();
          await local.query('vacuum public.t');
          const vacuumS = (performance.now() - vacStarted) / 1000;
          const got = (await local.query(FINGERPRINT)).rows[0];
          if (got.n !== want.n || got.sum !== want.sum)
            throw new Error(
              `copy with ${streams} streams differs: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`,
            );
          const r: Run = {
            streams,
            used: res.streams,
            copyS: res.copyMs / 1000,
            buildS: res.buildMs / 1000,
            totalS,
            vacuumS,
            rate: (res.rows * 1000) / Math.max(1, res.copyMs),
            streamRates: res.streamRates,
          };
          runs.push(r);
          say(
            `  ${streams} stream(s) (${res.streams} used): COPY ${r.copyS.toFixed(2)} s, index ${r.buildS.toFixed(2)} s, whole ${totalS.toFixed(2)} s, vacuum after ${vacuumS.toFixed(2)} s; ${Math.round(r.rate)} rows/s, per stream ${r.streamRates.map((x) => Math.round(x)).join(' / ')} rows/s (${la()})`,
          );
        }
      }
    } finally {
      await local.end();
      await provider.end();
    }
    say(`\nmedian of ${o.rounds} rounds (${la()} now)`);
    const med = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.floor((s.length - 1) / 2)] as number;
    };
    const base = med(runs.filter((r) => r.streams === o.streams[0]).map((r) => r.totalS));
    for (const n of o.streams) {
      const rs = runs.filter((r) => r.streams === n);
      if (!rs.length) continue;
      const total = med(rs.map((r) => r.totalS));
      say(
        `  ${n} stream(s) (${rs[0]?.used} used): COPY ${med(rs.map((r) => r.copyS)).toFixed(2)} s, index ${med(rs.map((r) => r.buildS)).toFixed(2)} s, whole ${total.toFixed(2)} s (÷ ${o.streams[0]} stream: ${(total / base).toFixed(2)}), vacuum after ${med(rs.map((r) => r.vacuumS)).toFixed(2)} s; per stream ${Math.round(med(rs.flatMap((r) => r.streamRates)))} rows/s`,
      );
    }
  } finally {
    await dropDbs(server, [SRC, DST]).catch(() => {});
  }
}
