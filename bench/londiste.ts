// `npm run bench -- londiste` (issue #11 item 9): ours against londiste3, native logical
// replication and the raw COPY pipe, in the same run, rounds alternating the order of the tools.
//   add-table → ok: the leaf's table empty, add-table there until its state is ok and replay has
//     caught up (native: CREATE SUBSCRIPTION until pg_subscription_rel says r; raw: psql COPY pipe
//     into an empty table with the same pk).
//   producer: the load (pgbench, one row per transaction: half UPDATEs by random pk, half INSERTs)
//     with the consumer stopped — tps with our logutriga, the C logutriga, no trigger, and no
//     trigger on the wal_level = logical cluster.
//   drain: that load is the backlog; the consumer started, time until the load's last row (a
//     marker written after it) is on the leaf: events/s.
// Best of the rounds; ratios ours ÷ each. Load average printed with every figure.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadAverage, logicalCluster, pgbenchScript, type Server, serverFromUrl } from './londiste-env.ts';
import {
  type AddTableResult,
  LondisteSetup,
  londiste3Flavour,
  NativeSetup,
  oursFlavour,
  RawPipe,
  type Setup,
} from './londiste-setups.ts';

export interface BenchLondisteOptions {
  adminUrl: string;
  rows: number;
  events: number;
  rounds: number;
  clients: number;
}

const say = (m: string) => console.log(m);
const la = () => `load ${loadAverage()[0].toFixed(1)}`;
const fmt = (x: number, d = 2) => x.toFixed(d);

/** One step of one tool; a failure is printed and that figure left out, the run goes on. */
async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    const lines = (err as Error).message.split('\n').filter((l) => /error|fail|timed out/i.test(l));
    say(`  ${what}: FAILED — ${[...new Set(lines)].slice(0, 3).join(' | ')}`);
    return null;
  }
}

interface Figures {
  addTable: number[];
  tps: number[];
  drain: number[];
  lastAdd?: AddTableResult;
}

export async function benchLondiste(o: BenchLondisteOptions): Promise<void> {
  // BENCH_ONLY=copy: only the copy of one table with 1 and N streams (BENCH_COPY_STREAMS=1,2).
  if (process.env.BENCH_ONLY === 'copy') {
    const { benchCopy } = await import('./londiste-copy.ts');
    return benchCopy({
      adminUrl: o.adminUrl,
      rows: o.rows,
      rounds: o.rounds,
      streams: (process.env.BENCH_COPY_STREAMS ?? '1,2').split(',').map(Number),
    });
  }
  const server: Server = serverFromUrl('debian', o.adminUrl);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-londiste-'));
  const script = path.join(dir, 'load.sql');
  writeFileSync(script, pgbenchScript(o.rows));
  say(
    `Londiste: ${o.rows} rows, ${o.events}-event load over ${o.clients} clients, ${o.rounds} rounds; ${la()}; work dir ${dir}`,
  );

  const base = { server, rows: o.rows, dir, clients: o.clients };
  const setups: Setup[] = [new LondisteSetup(oursFlavour, base)];
  const hasPy = spawnSync('/usr/bin/python3', ['-c', 'import londiste']).status === 0;
  if (hasPy) setups.push(new LondisteSetup(londiste3Flavour, base));
  else say('londiste3: python3-londiste not installed (apt-get install python3-londiste); skipped');
  let logical: Awaited<ReturnType<typeof logicalCluster>> | null = null;
  try {
    logical = await logicalCluster();
    setups.push(new NativeSetup({ ...base, server: logical.server }));
  } catch (err) {
    say(`native: no wal_level = logical cluster (${(err as Error).message}); skipped`);
  }
  const raw = new RawPipe(base);
  const fig = new Map<string, Figures>();
  for (const s of [...setups.map((x) => x.label), 'raw pipe', 'no trigger'])
    fig.set(s, { addTable: [], tps: [], drain: [] });
  const f = (label: string) => fig.get(label) as Figures;

  try {
    for (const s of setups) {
      say(`preparing ${s.label} (${la()})`);
      await s.prepare();
    }
    await raw.prepare();
    for (let round = 0; round < o.rounds; round++) {
      const order = setups.map((_, i) => setups[(i + round) % setups.length] as Setup);
      say(`\nround ${round + 1}/${o.rounds}: ${order.map((s) => s.label).join(', ')}`);
      const r = await raw.copy();
      f('raw pipe').addTable.push(r.seconds);
      say(`  raw pipe     ${fmt(r.seconds)} s, ${r.rows} rows (${la()})`);
      for (const s of order) {
        const a = await attempt(`add-table ${s.label}`, () => s.addTable());
        if (!a) continue;
        f(s.label).addTable.push(a.seconds);
        if (!f(s.label).lastAdd || a.seconds <= Math.min(...f(s.label).addTable)) f(s.label).lastAdd = a;
        say(`  add-table ${s.label.padEnd(10)} ${fmt(a.seconds)} s, ${a.rows} rows (${la()})`);
      }
      for (const s of order) await s.stopConsumer();
      const none = await raw.load(script, o.events, o.clients);
      f('no trigger').tps.push(none);
      say(`  producer no trigger  ${Math.round(none)} tps (${la()})`);
      for (const [i, s] of order.entries()) {
        const tps = await attempt(`producer ${s.label}`, () => s.load(script, o.events, o.clients));
        if (tps != null) {
          f(s.label).tps.push(tps);
          say(`  producer ${s.label.padEnd(10)}  ${Math.round(tps)} tps (${la()})`);
        }
        const secs = await attempt(`drain ${s.label}`, () => s.drain(-(round * 10 + i + 1)));
        if (secs == null || tps == null) continue; // a drain of a partial load is no figure
        const rate = (o.events + 1) / secs;
        f(s.label).drain.push(rate);
        say(`  drain    ${s.label.padEnd(10)}  ${fmt(secs)} s, ${Math.round(rate)} events/s (${la()})`);
      }
      if (round + 1 < o.rounds) for (const s of order) await attempt(`reset ${s.label}`, () => s.reset());
    }
  } finally {
    for (const s of setups)
      await s.cleanup().catch((e) => say(`cleanup ${s.label}: ${(e as Error).message}`));
    await raw.cleanup();
    await logical?.stop().catch(() => {});
  }
  report(fig, o);
  // BENCH_KEEP=1 keeps the configs and every process's log for a look afterwards.
  if (process.env.BENCH_KEEP) say(`logs kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

function report(fig: Map<string, Figures>, o: BenchLondisteOptions) {
  const best = (label: string, k: 'addTable' | 'tps' | 'drain') => {
    const xs = fig.get(label)?.[k] ?? [];
    if (!xs.length) return null;
    return k === 'addTable' ? Math.min(...xs) : Math.max(...xs);
  };
  const ratio = (a: number | null, b: number | null) => (a && b ? fmt(a / b) : '—');
  say(`\nbest of ${o.rounds} rounds (${la()} now)`);
  say(
    `  ${'tool'.padEnd(12)} ${'add-table→ok s'.padStart(15)} ${'drain ev/s'.padStart(11)} ${'producer tps'.padStart(13)}`,
  );
  for (const [label] of fig) {
    const a = best(label, 'addTable');
    const d = best(label, 'drain');
    const t = best(label, 'tps');
    say(
      `  ${label.padEnd(12)} ${(a == null ? '—' : fmt(a)).padStart(15)} ${(d == null ? '—' : String(Math.round(d))).padStart(11)} ${(t == null ? '—' : String(Math.round(t))).padStart(13)}`,
    );
  }
  const oa = best('ours', 'addTable');
  say('\nratios (goal in brackets)');
  say(
    `  add-table: ours ÷ raw pipe ${ratio(oa, best('raw pipe', 'addTable'))} (≤ 1.5); londiste3 ÷ raw pipe ${ratio(best('londiste3', 'addTable'), best('raw pipe', 'addTable'))}; ours ÷ native ${ratio(oa, best('native', 'addTable'))}`,
  );
  say(
    `  drain: ours ÷ londiste3 ${ratio(best('ours', 'drain'), best('londiste3', 'drain'))} (≥ 3); ours ÷ native ${ratio(best('ours', 'drain'), best('native', 'drain'))} (≥ 1.0)`,
  );
  say(
    `  producer: ours ÷ C trigger ${ratio(best('ours', 'tps'), best('londiste3', 'tps'))} (≥ 0.9); ours ÷ no trigger ${ratio(best('ours', 'tps'), best('no trigger', 'tps'))}; wal_level=logical ÷ no trigger ${ratio(best('native', 'tps'), best('no trigger', 'tps'))}`,
  );
  const prof = fig.get('ours')?.lastAdd;
  if (prof?.phases.length) {
    say('\nours, best add-table, from the leaf worker log (s after add-table started):');
    for (const p of prof.phases) say(`  ${fmt(p.at).padStart(7)}  ${p.what}`);
  }
}
