// `compare [tables…] [--count-only] [--force]`: every table's row count and checksum on the
// provider and here, both read at one tick (sync.ts), with the handler's copy condition over the
// common columns. Tables above `splitRows` are read in block chunks (checksum.ts) on `parallel`
// connection pairs at once; one whose sums differ is read again in key ranges, and the ranges
// that differ are named (repair takes them as --repair-where). The verdict per table; the caller's exit code is the
// number of tables that differ, as the original's.
import type pg from 'pg';
import type { AdminSession } from '../../cascade/admin-session.ts';
import type { Logger } from '../../util/log.ts';
import {
  blockChunks,
  type ChecksumQuery,
  estimateRows,
  keyRanges,
  type RangeFigures,
  rangeFigures,
} from './checksum.ts';
import { planNodes, planTables, type TablePlan } from './plan.ts';
import { startSync } from './sync.ts';

export interface CompareOptions {
  s: AdminSession;
  localLocation: string;
  tables: readonly string[];
  countOnly?: boolean;
  /** Wait for the worker without a time limit (the original's "ignore lag"). */
  force?: boolean;
  /** Connections per side (default 2). */
  parallel?: number;
  /** Tables estimated above this many rows are split into key ranges (default 200 000). */
  splitRows?: number;
  /** Rows per range of a split table (default 100 000). */
  rangeRows?: number;
  /** How long the worker may take to reach the tick (default 60 s; --force: no limit). */
  timeoutMs?: number;
  lockTimeoutMs?: number;
  log: Logger;
}

export interface RangeVerdict {
  /** The range's condition on the key ('' = the whole table). */
  where: string;
  provider: RangeFigures;
  subscriber: RangeFigures;
}

export interface TableVerdict {
  table: string;
  equal: boolean;
  tick: string;
  provider: { rows: string; checksum: string | null };
  subscriber: { rows: string; checksum: string | null };
  /** Key ranges compared (1: the table was read whole or found equal in block chunks). */
  ranges: number;
  /** Block chunks per side of the first pass (0: not read in chunks). */
  blockChunks: number;
  /** The ranges that differ (all of them when the table was not split). */
  differing: { where: string; provider: string; subscriber: string }[];
  /** --repair-where for repair: the differing ranges ORed ('' = the whole table). */
  repairWhere: string;
}

export interface CompareResult {
  tick: bigint | null;
  tables: TableVerdict[];
  skipped: { table: string; reason: string }[];
  /** Tables that differ: the exit code. */
  differ: number;
  /** Time to reach one tick on both sides, and the whole run (ms). */
  syncMs: number;
  totalMs: number;
  attempts: number;
  /** Reading the tables' setup before the sync; checksums after it (ms). */
  planMs: number;
  checksumMs: number;
}

export const DEFAULT_SPLIT_ROWS = 200_000;
const DEFAULT_RANGE_ROWS = 100_000;
const MAX_RANGES = 256;

export function formatFigures(f: RangeFigures): string {
  return f.checksum === null ? `${f.rows} rows` : `${f.rows} rows, checksum=${f.checksum}`;
}

interface Job {
  t: TablePlan;
  /** The condition on each side: a key range (the same on both) or a block chunk (each its own). */
  where: { provider: string; subscriber: string };
  result?: RangeVerdict;
}

/** How a table is read: whole, in key ranges (comparable one by one) or in block chunks (sums). */
interface TableRead {
  t: TablePlan;
  mode: 'whole' | 'keys' | 'blocks';
  jobs: Job[];
}

export async function compareTables(o: CompareOptions): Promise<CompareResult> {
  const t0 = Date.now();
  const log = o.log;
  const parallel = Math.max(1, o.parallel ?? 2);
  const planOpts = {
    s: o.s,
    localLocation: o.localLocation,
    tables: o.tables,
    log,
    applicationName: 'skytools londiste compare',
  };
  const nodes = await planNodes(planOpts);
  // The tables' setup is read while the sync opens its connections and waits for the tick (they
  // use connections of their own); with nothing to compare, the sync is called off.
  const sync = startSync({
    queue: o.s.queue,
    providerType: nodes.provider.nodeType ?? '',
    providerWorker: nodes.provider.workerName,
    subscriberWorker: nodes.subscriberWorker,
    connectProvider: nodes.connectProvider,
    connectSubscriber: nodes.connectSubscriber,
    parallel,
    timeoutMs: o.force ? 0 : (o.timeoutMs ?? 60_000),
    lockTimeoutMs: o.lockTimeoutMs,
    log,
  });
  let plan: Awaited<ReturnType<typeof planTables>>;
  try {
    plan = await planTables(planOpts, nodes);
  } catch (err) {
    await sync.callOff();
    throw err;
  }
  const planMs = Date.now() - t0;
  if (plan.tables.length === 0) {
    await sync.callOff();
    return {
      tick: null,
      tables: [],
      skipped: plan.skipped,
      differ: 0,
      syncMs: 0,
      totalMs: 0,
      attempts: 0,
      planMs: 0,
      checksumMs: 0,
    };
  }
  const snaps = await sync.snapshots();
  const started = Date.now();
  try {
    log.info(`comparing ${plan.tables.length} table(s) at tick ${snaps.tick}`, { tickId: snaps.tick });
    const p0 = snaps.provider[0]!;
    const s0 = snaps.subscriber[0]!;
    const query = (t: TablePlan, side: 'provider' | 'subscriber'): ChecksumQuery => ({
      table: side === 'provider' ? t.providerTable : t.subscriberTable,
      columns: t.columns,
      types: t.types,
      where: t.condition,
      countOnly: !!o.countOnly,
    });
    const same = (t: TablePlan, where: string): Job => ({ t, where: { provider: where, subscriber: where } });
    const keyJobs = async (t: TablePlan, est: number, n: number) => {
      const ranges = await keyRanges(p0, t.providerTable, t.key, est, n);
      log.info(`${t.table}: ~${Math.round(est)} rows in ${ranges.length} key ranges`);
      return ranges.map((w) => same(t, w));
    };
    // A big table is read first in block chunks (the cheapest pass); only one whose sums differ
    // is read again in key ranges, to name the ranges that differ.
    const reads: TableRead[] = [];
    for (const t of plan.tables) {
      const est = await estimateRows(p0, t.providerTable);
      const n = Math.min(MAX_RANGES, Math.ceil(est / (o.rangeRows ?? DEFAULT_RANGE_ROWS)));
      if (est <= (o.splitRows ?? DEFAULT_SPLIT_ROWS) || n <= 1) {
        reads.push({ t, mode: 'whole', jobs: [same(t, '')] });
        continue;
      }
      const chunks = Math.max(n, parallel);
      const [pc, sc] = await Promise.all([
        blockChunks(p0, t.providerTable, chunks),
        blockChunks(s0, t.subscriberTable, chunks),
      ]);
      if (pc && sc) {
        const len = Math.max(pc.length, sc.length);
        const jobs = Array.from({ length: len }, (_, i) => ({
          t,
          // The side with fewer blocks gets empty chunks to fill the pairs.
          where: { provider: pc[i] ?? 'false', subscriber: sc[i] ?? 'false' },
        }));
        reads.push({ t, mode: 'blocks', jobs });
      } else if (t.key.length) reads.push({ t, mode: 'keys', jobs: await keyJobs(t, est, n) });
      else reads.push({ t, mode: 'whole', jobs: [same(t, '')] });
    }
    let done = 0;
    let total = reads.reduce((a, r) => a + r.jobs.length, 0) * 2;
    let lastLog = Date.now();
    // Each side's connections take that side's next part on their own: a side is never idle
    // waiting for the other side's part of a pair (one slow part no longer holds up both cores).
    const run = async (jobs: Job[]) => {
      const figures = { provider: [] as RangeFigures[], subscriber: [] as RangeFigures[] };
      const side = (name: 'provider' | 'subscriber', conns: readonly pg.Client[]) => {
        let next = 0;
        return conns.map(async (c) => {
          for (let j = next++; j < jobs.length; j = next++) {
            const job = jobs[j]!;
            figures[name][j] = await rangeFigures(c, query(job.t, name), job.where[name]);
            done++;
            if (Date.now() - lastLog > 5000) {
              log.info(`compared ${done}/${total} parts (both sides)`);
              lastLog = Date.now();
            }
          }
        });
      };
      await Promise.all([...side('provider', snaps.provider), ...side('subscriber', snaps.subscriber)]);
      jobs.forEach((job, j) => {
        job.result = {
          where: job.where.provider,
          provider: figures.provider[j]!,
          subscriber: figures.subscriber[j]!,
        };
      });
    };
    await run(reads.flatMap((r) => r.jobs));
    const sum = (jobs: readonly Job[], side: 'provider' | 'subscriber') => ({
      rows: jobs.reduce((a, j) => a + j.result![side].rows, 0n),
      checksum: o.countOnly
        ? null
        : jobs.reduce((a, j) => a + BigInt(j.result![side].checksum ?? '0'), 0n).toString(),
    });
    const differs = (jobs: readonly Job[]) => {
      const p = sum(jobs, 'provider');
      const s = sum(jobs, 'subscriber');
      return p.rows !== s.rows || p.checksum !== s.checksum;
    };
    const again: Job[] = [];
    for (const r of reads) {
      if (r.mode !== 'blocks' || !differs(r.jobs)) continue;
      const est = await estimateRows(p0, r.t.providerTable);
      const n = Math.min(MAX_RANGES, Math.ceil(est / (o.rangeRows ?? DEFAULT_RANGE_ROWS)));
      if (r.t.key.length) {
        r.jobs = await keyJobs(r.t, est, n);
        r.mode = 'keys';
        again.push(...r.jobs);
      } else {
        // No key to split on: the table differs as a whole.
        const p = sum(r.jobs, 'provider');
        const s = sum(r.jobs, 'subscriber');
        r.jobs = [{ ...same(r.t, ''), result: { where: '', provider: p, subscriber: s } }];
        r.mode = 'whole';
      }
    }
    if (again.length) {
      log.info(`${again.length} key ranges to find where the tables differ`);
      total += again.length * 2;
      await run(again);
    }
    const tables: TableVerdict[] = reads.map(({ t, mode, jobs }) => {
      const p = sum(jobs, 'provider');
      const s = sum(jobs, 'subscriber');
      const rs = mode === 'blocks' ? [] : jobs.map((j) => j.result!);
      const diff = rs.filter(
        (r) => r.provider.rows !== r.subscriber.rows || r.provider.checksum !== r.subscriber.checksum,
      );
      const v: TableVerdict = {
        table: t.table,
        equal: diff.length === 0,
        tick: snaps.tick.toString(),
        provider: { rows: p.rows.toString(), checksum: p.checksum },
        subscriber: { rows: s.rows.toString(), checksum: s.checksum },
        ranges: mode === 'blocks' ? 1 : rs.length,
        blockChunks: mode === 'blocks' ? jobs.length : 0,
        differing: diff.map((r) => ({
          where: r.where,
          provider: formatFigures(r.provider),
          subscriber: formatFigures(r.subscriber),
        })),
        repairWhere: diff.some((r) => r.where === '') ? '' : diff.map((r) => `(${r.where})`).join(' or '),
      };
      if (v.equal) log.info(`${t.table}: ${formatFigures(p)}`);
      else log.warn(`${t.table}: results do not match`);
      return v;
    });
    log.info(`compare done in ${Date.now() - started} ms`);
    return {
      tick: snaps.tick,
      tables,
      skipped: plan.skipped,
      differ: tables.filter((t) => !t.equal).length,
      syncMs: snaps.syncMs,
      attempts: snaps.attempts,
      planMs,
      checksumMs: Date.now() - started,
      totalMs: Date.now() - t0,
    };
  } finally {
    await snaps.release();
  }
}

/** The text form: a line per table; for a difference both sides and the differing ranges. */
export function formatCompare(r: CompareResult, repairHint: (t: TableVerdict) => string): string {
  const lines: string[] = [];
  for (const t of r.tables) {
    if (t.equal) {
      lines.push(`${t.table}: ${formatFigures(toFigures(t.provider))} (equal at tick ${t.tick})`);
      continue;
    }
    lines.push(`${t.table}: results do not match (tick ${t.tick})`);
    lines.push(`  provider:   ${formatFigures(toFigures(t.provider))}`);
    lines.push(`  subscriber: ${formatFigures(toFigures(t.subscriber))}`);
    if (t.ranges > 1) {
      lines.push(`  ${t.differing.length} of ${t.ranges} key ranges differ:`);
      for (const d of t.differing)
        lines.push(`    ${d.where}: provider ${d.provider}; subscriber ${d.subscriber}`);
    }
    lines.push(`  ${repairHint(t)}`);
  }
  for (const s of r.skipped) lines.push(`${s.table}: skipped, ${s.reason}`);
  return lines.join('\n');
}

function toFigures(f: { rows: string; checksum: string | null }): RangeFigures {
  return { rows: BigInt(f.rows), checksum: f.checksum };
}
