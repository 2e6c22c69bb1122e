// The backup part of `npm run bench -- wal`: one full backup per tool of its own copy of the
// bench cluster, then incremental backups after 1 % of the table's rows changed
// (`pgbackrest backup --type=incr` against `walmgr backup --type incr`), timed end to end with
// the CPU of every process involved: the tool's (user+sys of it and its children, from
// /usr/bin/time) and the cluster's (the postmaster and its children, from /proc: the backup's
// backend, the checkpointer, the archiver and the archive_command it runs).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Cluster, ROOT as REPO_ROOT, s3Env } from '../test/walmgr/harness.ts';

/** The installed `skytools` command's entry (package.json "bin"), as a user runs it. */
const CLI = path.join(REPO_ROOT, 'bin/skytools.js');

export interface BenchBackupRow {
  tool: string;
  /** 'full', or 'incr' (after 1 % of the rows changed). */
  kind: 'full' | 'incr';
  seconds: number;
  /** user+sys of the tool's processes. */
  cpu: number;
  /** user+sys of the cluster's processes over the same interval. */
  serverCpu: number;
  /** Load average (1 min) when it ended. */
  load: number;
}

export interface BackupTools {
  pgbr: Cluster;
  ours: Cluster;
  pgbrConf: string;
  /** walmgr's repository flags (--repo, --endpoint, …). */
  oursFlags: string[];
  oursEnv: Record<string, string>;
  work: string;
  say: (m: string) => void;
}

const CLK_TCK = 100;

/**
 * CPU seconds so far of a running cluster: the postmaster and its live children, plus the
 * children already reaped (the postmaster's cutime/cstime), so a backend or an archive_command
 * that exits between two readings is still counted once. A process that detaches from the
 * archiver (pgBackRest's async archive-push daemon) is not counted.
 */
export function clusterCpu(pgdata: string): number {
  const pid = Number(readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // After "pid (comm) ": state ppid … utime(14) stime cutime cstime, 1-based field numbers.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(d) === pid || Number(f[1]) === pid)
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / CLK_TCK;
}

const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/**
 * Runs a command (as the postgres OS user when we are root) under /usr/bin/time; fails naming
 * `what` if it exits non-zero or is still running after `limitMs`.
 */
export function timedRun(
  what: string,
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd: string; limitMs: number },
): Promise<{ seconds: number; cpu: number; stderr: string }> {
  const tdir = mkdtempSync(path.join(os.tmpdir(), 'wal-bench-time-'));
  const out = path.join(tdir, 'time');
  const inner = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', '%U %S', '-o', out, ...inner], {
      env: { ...process.env, ...(opts.env ?? {}) },
      cwd: opts.cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(
        new Error(`${what}: still running after ${opts.limitMs / 1000} s; stderr:\n${err.slice(-3000)}`),
      );
    }, opts.limitMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      let cpu = Number.NaN;
      try {
        const [u, s] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
        cpu = u! + s!;
      } catch {
        // no figure: reported as NaN
      }
      rmSync(tdir, { recursive: true, force: true });
      if (code === 0) resolve({ seconds, cpu, stderr: err });
      else reject(new Error(`${what}: exited ${code}; stderr:\n${err.slice(-3000)}`));
    });
  });
}

/** Minutes a backup may take before the bench gives up on it (BENCH_WAL_BACKUP_LIMIT_MIN). */
const limitMs = () => Number(process.env.BENCH_WAL_BACKUP_LIMIT_MIN ?? 30) * 60_000;

async function pgbrBackup(t: BackupTools, type: 'full' | 'incr'): Promise<BenchBackupRow> {
  const cpu0 = clusterCpu(t.pgbr.pgdata);
  const r = await timedRun(
    `pgbackrest backup --type=${type}`,
    'pgbackrest',
    [
      `--config=${t.pgbrConf}`,
      '--stanza=bench',
      `--pg1-path=${t.pgbr.pgdata}`,
      `--pg1-port=${t.pgbr.port}`,
      `--pg1-socket-path=${t.pgbr.dir}`,
      'backup',
      `--type=${type}`,
    ],
    { cwd: t.work, limitMs: limitMs() },
  );
  const row = {
    tool: `pgbackrest backup --type=${type}`,
    kind: type,
    seconds: r.seconds,
    cpu: r.cpu,
    serverCpu: clusterCpu(t.pgbr.pgdata) - cpu0,
    load: load1(),
  };
  t.say(
    `  ${row.tool}: ${row.seconds.toFixed(1)} s (CPU ${row.cpu.toFixed(1)} s, server ${row.serverCpu.toFixed(1)} s)`,
  );
  return row;
}

async function oursBackup(t: BackupTools, type: 'full' | 'incr'): Promise<BenchBackupRow> {
  const cpu0 = clusterCpu(t.ours.pgdata);
  const r = await timedRun(
    `walmgr backup --type ${type}`,
    process.execPath,
    [
      CLI,
      'walmgr',
      'backup',
      ...t.oursFlags,
      '--pgdata',
      t.ours.pgdata,
      '--db',
      t.ours.url,
      '--type',
      type,
      // What the piece size buys an incremental (fewer bytes stored again per changed page) and
      // costs a full backup (more objects): BENCH_WAL_PIECE_SIZE, e.g. 4M; default walmgr's.
      ...(process.env.BENCH_WAL_PIECE_SIZE ? ['--piece-size', process.env.BENCH_WAL_PIECE_SIZE] : []),
    ],
    {
      env: { ...s3Env(), ...t.oursEnv, SKYTOOLS_NODE: process.execPath },
      cwd: REPO_ROOT,
      limitMs: limitMs(),
    },
  );
  const row = {
    tool: `skytools walmgr backup --type ${type}`,
    kind: type,
    seconds: r.seconds,
    cpu: r.cpu,
    serverCpu: clusterCpu(t.ours.pgdata) - cpu0,
    load: load1(),
  };
  // Its stage line: where the time of this backup went.
  const stages = /stages: (.*)$/m.exec(r.stderr)?.[1];
  t.say(
    `  ${row.tool}: ${row.seconds.toFixed(1)} s (CPU ${row.cpu.toFixed(1)} s, server ${row.serverCpu.toFixed(1)} s)`,
  );
  if (stages) t.say(`    stages: ${stages}`);
  const unchanged = /[\d.]+ MiB unchanged since .*$/m.exec(r.stderr)?.[0];
  if (unchanged) t.say(`    ${unchanged}`);
  // What the WAL since the reference said (or why it could not).
  const wal = /: ((?:\d+ WAL record\(s\)|.*reading page LSNs instead).*)$/m.exec(r.stderr)?.[1];
  if (wal) t.say(`    ${wal}`);
  return row;
}

/** One full backup per tool (each cluster started for it and stopped after). */
export async function fullBackups(t: BackupTools): Promise<BenchBackupRow[]> {
  await t.pgbr.start();
  const a = await pgbrBackup(t, 'full');
  await t.pgbr.stop();
  await t.ours.start();
  const b = await oursBackup(t, 'full');
  await t.ours.stop();
  return [a, b];
}

/**
 * Changes 1 % of table `w`'s rows, spread over it: `ranges` runs of consecutive pages, evenly
 * spaced, together 1 % of its pages (each row on them updated; the new row versions go to the
 * end of the table, as a full table's updates do). `round` moves the runs, so later rounds
 * change other pages. TID ranges, not a predicate: a scan of the freshly loaded table would set
 * hint bits on every page — a bulk-load artefact, not part of a 1 % change.
 */
export async function changeOnePercent(c: Cluster, ranges: number, round: number): Promise<void> {
  const pages = Number(
    (await c.query<{ p: string }>(`select (pg_relation_size('w') / 8192)::text as p`))[0]!.p,
  );
  const changed = Math.max(1, Math.floor(pages / 100));
  const runs = Math.max(1, Math.min(ranges, changed));
  const width = Math.max(1, Math.floor(changed / runs));
  const stride = Math.floor(pages / runs);
  const shift = Math.floor((stride / 7) * (round % 7));
  const stmts: string[] = [];
  for (let i = 0; i < runs; i++) {
    const from = Math.min(pages - width, i * stride + shift);
    stmts.push(
      `update w set n = n + 1 where ctid >= '(${from},0)'::tid and ctid < '(${from + width},0)'::tid`,
    );
  }
  await c.query(`begin; ${stmts.join('; ')}; commit`);
}

/**
 * Rounds of: 1 % of the rows changed in both clusters the same way, then one incremental backup
 * per tool (pgBackRest first), each against the tool's previous backup. One round per entry of
 * BENCH_WAL_INCR_RANGES (default 4,16: how many runs of pages the 1 % is spread over — hot
 * regions, or spread thin, which changes more 16 MiB pieces), BENCH_WAL_INCR_RUNS times
 * (default 1). Runs after the restores, so those compare full backups.
 */
export async function incrementalBackups(t: BackupTools): Promise<BenchBackupRow[]> {
  const runs = Math.max(1, Number(process.env.BENCH_WAL_INCR_RUNS ?? 1));
  const spreads = (process.env.BENCH_WAL_INCR_RANGES ?? '4,16').split(',').map((x) => Math.max(1, Number(x)));
  const rounds = Array.from({ length: runs }, () => spreads).flat();
  const rows: BenchBackupRow[] = [];
  await t.pgbr.start();
  await t.ours.start();
  try {
    for (const [round, ranges] of rounds.entries()) {
      t.say(
        `wal bench: incremental ${round + 1} of ${rounds.length}: 1% of the rows changed (${ranges} runs of pages spread over the table), load ${load1()}`,
      );
      await changeOnePercent(t.pgbr, ranges, round);
      await changeOnePercent(t.ours, ranges, round);
      for (const r of [await pgbrBackup(t, 'incr'), await oursBackup(t, 'incr')])
        rows.push({ ...r, tool: `${r.tool} (1%, ${ranges} runs)` });
    }
  } finally {
    await t.pgbr.stop();
    await t.ours.stop();
  }
  return rows;
}

/** The backup table: time, CPU, ÷ the same tool's full backup, ours ÷ pgBackRest. */
export function printBackupRows(rows: BenchBackupRow[]): void {
  const full = (pgbr: boolean) =>
    rows.find((r) => r.kind === 'full' && r.tool.startsWith('pgbackrest') === pgbr);
  console.log(
    '\nwalmgr: base backups (same data, same endpoint); incr after 1% of the rows changed. ÷full: of the same tool; ours÷pgBR: the pair',
  );
  console.log(
    `${'tool'.padEnd(50)} ${'s'.padStart(7)} ${'CPU s'.padStart(6)} ${'srv CPU'.padStart(7)} ${'load'.padStart(5)} ${'÷full'.padStart(6)} ${'ours÷pgBR'.padStart(9)}`,
  );
  for (const [i, r] of rows.entries()) {
    const isPgbr = r.tool.startsWith('pgbackrest');
    const f = full(isPgbr);
    const pair = !isPgbr && i > 0 && rows[i - 1]!.tool.startsWith('pgbackrest') ? rows[i - 1] : undefined;
    console.log(
      `${r.tool.padEnd(50)} ${r.seconds.toFixed(1).padStart(7)} ${r.cpu.toFixed(1).padStart(6)} ${r.serverCpu.toFixed(1).padStart(7)} ${r.load.toFixed(1).padStart(5)} ${(f ? r.seconds / f.seconds : Number.NaN).toFixed(3).padStart(6)} ${(pair ? r.seconds / pair.seconds : Number.NaN).toFixed(2).padStart(9)}`,
    );
  }
}
