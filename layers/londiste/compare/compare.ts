// `compare [tables…] [--count-only] [--force]`: every table's row count and checksum on the
// provider and here, both read at one tick (sync.ts), with the handler's copy condition over the
// common columns. Tables above `splitRows` are split into key ranges (checksum.ts) checked on
// `parallel` connection pairs at once; for a table that differs, the ranges that differ are named
// (repair takes them as --repair-where). The verdict per table; the caller's exit code is the
// number of tables that differ, as the original's.
import type { AdminSession } from '../../cascade/admin-session.ts';
import type { Logger } from '../../util/log.ts';
import { type ChecksumQuery, estimateRows, keyRanges, type RangeFigures, rangeFigures } from './checksum.ts';
import { planTables, type TablePlan } from './plan.ts';
import { syncSnapshots } from './sync.ts';

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
  ranges: number;
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
  q: (side: 'provider' | 'subscriber') => ChecksumQuery;
  where: string;
  result?: RangeVerdict;
}

export async function compareTables(o: CompareOptions): Promise<CompareResult> {
  const t0 = Date.now();
  const log = o.log;
  const parallel = Math.max(1, o.parallel ?? 2);
  const plan = await planTables({
    s: o.s,
    localLocation: o.localLocation,
    tables: o.tables,
    log,
    applicationName: 'skytools londiste compare',
  });
  const planMs = Date.now() - t0;
  if (plan.tables.length === 0)
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
  const snaps = await syncSnapshots({
    queue: o.s.queue,
    providerType: plan.provider.nodeType ?? '',
    providerWorker: plan.provider.workerName,
    subscriberWorker: plan.subscriberWorker,
    connectProvider: plan.connectProvider,
    connectSubscriber: plan.connectSubscriber,
    parallel,
    timeoutMs: o.force ? 0 : (o.timeoutMs ?? 60_000),
    lockTimeoutMs: o.lockTimeoutMs,
    log,
  });
  const started = Date.now();
  try {
    log.info(`comparing ${plan.tables.length} table(s) at tick ${snaps.tick}`, { tickId: snaps.tick });
    const jobs: Job[] = [];
    const p0 = snaps.provider[0]!;
    for (const t of plan.tables) {
      const q = (side: 'provider' | 'subscriber'): ChecksumQuery => ({
        table: side === 'provider' ? t.providerTable : t.subscriberTable,
        columns: t.columns,
        types: t.types,
        where: t.condition,
        countOnly: !!o.countOnly,
      });
      let ranges = [''];
      if (t.key.length) {
        const est = await estimateRows(p0, t.providerTable);
        if (est > (o.splitRows ?? DEFAULT_SPLIT_ROWS)) {
          const n = Math.min(MAX_RANGES, Math.ceil(est / (o.rangeRows ?? DEFAULT_RANGE_ROWS)));
          ranges = await keyRanges(p0, t.providerTable, t.key, est, n);
          log.info(`${t.table}: ~${Math.round(est)} rows in ${ranges.length} key ranges`);
        }
      }
      for (const where of ranges) jobs.push({ t, q, where });
    }
    // Each connection pair takes the next range; provider and subscriber run side by side.
    let next = 0;
    let done = 0;
    let lastLog = Date.now();
    await Promise.all(
      snaps.provider.map(async (pc, i) => {
        const sc = snaps.subscriber[i]!;
        for (let j = next++; j < jobs.length; j = next++) {
          const job = jobs[j]!;
          const [p, s] = await Promise.all([
            rangeFigures(pc, job.q('provider'), job.where),
            rangeFigures(sc, job.q('subscriber'), job.where),
          ]);
          job.result = { where: job.where, provider: p, subscriber: s };
          done++;
          if (Date.now() - lastLog > 5000) {
            log.info(`compared ${done}/${jobs.length} ranges`);
            lastLog = Date.now();
          }
        }
      }),
    );
    const tables: TableVerdict[] = plan.tables.map((t) => {
      const rs = jobs.filter((j) => j.t === t).map((j) => j.result!);
      const sum = (side: 'provider' | 'subscriber') => {
        const rows = rs.reduce((a, r) => a + r[side].rows, 0n);
        const cs = o.countOnly
          ? null
          : rs.reduce((a, r) => a + BigInt(r[side].checksum ?? '0'), 0n).toString();
        return { rows, checksum: cs };
      };
      const p = sum('provider');
      const s = sum('subscriber');
      const diff = rs.filter(
        (r) => r.provider.rows !== r.subscriber.rows || r.provider.checksum !== r.subscriber.checksum,
      );
      const v: TableVerdict = {
        table: t.table,
        equal: diff.length === 0,
        tick: snaps.tick.toString(),
        provider: { rows: p.rows.toString(), checksum: p.checksum },
        subscriber: { rows: s.rows.toString(), checksum: s.checksum },
        ranges: rs.length,
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
