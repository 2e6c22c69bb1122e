// `npm run bench -- wal`: WAL archive throughput of `skytools walmgr archive` against
// pgBackRest's async archive-push, same WAL, same S3 endpoint, same run.
//
// How: one cluster (16 MiB segments) writes N segments while archiving is held back
// (archive_command = ''), so every segment waits as .ready; it is stopped and copied once per
// tool. Each copy is started with that tool's archive_command and timed until no .ready file is
// left. The S3 endpoint is in-process fauxqs behind a local TLS proxy (pgBackRest speaks S3 only
// over TLS), used by both tools. Then restore_command throughput: every segment fetched in
// order, one command per segment as PostgreSQL runs it. Then full restore: one full base backup
// of the same cluster per tool (pgBackRest `backup --type=full`, `walmgr backup`), each restored
// into an empty directory with the same parallelism, timed as MiB of data directory per second.
// The backups are timed too (bench/wal-backup.ts), and last incremental backups of both tools
// after 1% of the rows changed.
//
// BENCH_WAL_ONLY=archive,restore,backup (any of them; default all) picks the stages: archive
// (archive_command and restore_command rates), restore (full backups, then full restores),
// backup (full backups, then incrementals). Without archive, the cluster writes its data with
// archiving off, so no backlog of .ready segments has to drain before the backups.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import {
  archiveCommand,
  type Cluster,
  chownR,
  createCluster,
  initRepo,
  ROOT as REPO_ROOT,
  s3Env,
  startS3,
  tempDir,
  walmgr,
} from '../test/walmgr/harness.ts';
import { type BenchBackupRow, fullBackups, incrementalBackups, printBackupRows } from './wal-backup.ts';

const run = promisify(execFile);

export interface BenchWalOptions {
  /** Segments to archive (default $BENCH_WAL_SEGMENTS or 130). */
  segments?: number;
  /** Concurrent uploads for both tools (default 4). */
  parallel?: number;
  /** Our archive-ahead window (default 64). */
  ahead?: number;
  log?: (msg: string) => void;
}

export interface BenchRestoreRow {
  tool: string;
  /** Bytes of the restored data directory (du -sb). */
  bytes: number;
  seconds: number;
  mibPerSec: number;
  /**
   * CPU (user + sys) of the tool's processes, every thread and child: a cpuacct cgroup around
   * the restore (as archive's rows), else (not root) what we reaped. The reaped figure missed
   * 0.3–1.6 s of pgBackRest's (processes not waited for) and 0.1–0.6 s of ours in session 9.
   */
  cpuSeconds: number;
  /** The same from the reaped children's times (/proc/self/stat), for comparison. */
  reapedCpuSeconds: number;
  /** CPU of this process meanwhile: the S3 endpoint and TLS proxy both tools talk to. */
  serverCpuSeconds: number;
}

export interface BenchWalResult {
  wal: BenchWalRow[];
  restore: BenchRestoreRow[];
  /** Full backups, then incrementals after 1% changed, pgBackRest first in each pair. */
  backup: BenchBackupRow[];
}

export interface BenchWalRow {
  tool: string;
  segments: number;
  seconds: number;
  segmentsPerSec: number;
  mibPerSec: number;
  /**
   * CPU (user + sys) of every process of the tool's side, detached ones included: for archive
   * the cluster with its archive_command and pgBackRest's async daemon, for restore_command
   * every command and what it started (our prefetcher, pgBackRest's async archive-get). Null
   * where no cgroup could be made (not root).
   */
  cpuSeconds: number | null;
  /** CPU of this process meanwhile: the S3 endpoint and TLS proxy both tools talk to. */
  serverCpuSeconds: number;
  load: string;
}

/**
 * A cpuacct cgroup (v1) holding whatever is spawned inside `spawning`: detached processes
 * (pgBackRest's async daemons, our prefetcher) are not reaped by us, so their CPU is not in our
 * children's times. Only this process's spawn call runs inside: it leaves again at once.
 */
function cpuGroup(name: string) {
  const dir = `/sys/fs/cgroup/cpuacct/skytools-bench-${name}-${process.pid}`;
  try {
    mkdirSync(dir);
  } catch {
    return null;
  }
  const move = (to: string) => writeFileSync(`${to}/cgroup.procs`, String(process.pid));
  const read = (f: string) => Number(readFileSync(`${dir}/${f}`, 'utf8')) / 1e9;
  return {
    spawning<T>(fn: () => T): T {
      move(dir);
      try {
        return fn();
      } finally {
        move('/sys/fs/cgroup/cpuacct');
      }
    },
    seconds: () => read('cpuacct.usage_user') + read('cpuacct.usage_sys'),
    /** Waits (up to 20 s) for the detached ones to exit, then removes the group. */
    async close(): Promise<number> {
      for (let i = 0; i < 200 && readFileSync(`${dir}/tasks`, 'utf8').trim(); i++)
        await new Promise((r) => setTimeout(r, 100));
      const cpu = read('cpuacct.usage_user') + read('cpuacct.usage_sys');
      rmdirSync(dir);
      return cpu;
    },
  };
}

export async function tlsProxy(
  targetPort: number,
  dir: string,
): Promise<{ port: number; cert: string; stop: () => void }> {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  const server = tls.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (client) => {
    const up = net.connect(targetPort, '127.0.0.1');
    // As an S3 front end does: no Nagle delay. With it, TLS 1.3's session tickets (two small
    // writes after the handshake) held each connection's first response until the client's
    // delayed ACK, ~40 ms per new connection for every tool.
    client.setNoDelay(true);
    up.setNoDelay(true);
    client.pipe(up);
    up.pipe(client);
    const close = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', close);
    up.on('error', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, cert, stop: () => server.close() };
}

function readyCount(pgdata: string): number {
  try {
    return readdirSync(path.join(pgdata, 'pg_wal/archive_status')).filter((f) => f.endsWith('.ready')).length;
  } catch {
    return -1;
  }
}

async function timeArchive(
  c: Cluster,
  total: number,
  say: (m: string) => void,
  tool: string,
  group: ReturnType<typeof cpuGroup>,
): Promise<number> {
  const t0 = performance.now();
  await (group ? group.spawning(() => c.start()) : c.start());
  let last = 0;
  let progressAt = performance.now();
  let prevLeft = total;
  for (;;) {
    const left = readyCount(c.pgdata);
    if (left === 0) break;
    if (left !== prevLeft) {
      prevLeft = left;
      progressAt = performance.now();
    } else if (performance.now() - progressAt > 300_000) {
      throw new Error(`${tool}: no segment archived for 300 s; server log:\n${(await c.log()).slice(-3000)}`);
    }
    if (performance.now() - last > 5000) {
      last = performance.now();
      say(`  ${tool}: ${total - left}/${total} archived`);
    }
    if (performance.now() - t0 > 900_000)
      throw new Error(`${tool}: archiving did not finish in 15 minutes:\n${(await c.log()).slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return (performance.now() - t0) / 1000;
}

export function runAsPostgres(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<number> {
  const [c, a] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const p = spawn(c, a as string[], {
      env: { ...process.env, ...env },
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve(0) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
}

/** The 1/5/15-minute load average: figures from a shared machine mean little without it. */
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/**
 * CPU seconds (user + sys) of this process and of its reaped children (/proc/self/stat utime,
 * stime, cutime, cstime): a child's figure includes its own reaped children (runuser → the tool
 * → its workers), so the difference around one restore is that tool's whole CPU.
 */
function cpuTimes(): { self: number; children: number } {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const tick = 100; // USER_HZ on Linux
  return { self: (Number(f[11]) + Number(f[12])) / tick, children: (Number(f[13]) + Number(f[14])) / tick };
}

async function duBytes(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split(/\s/)[0]);
}

type Stage = 'archive' | 'restore' | 'backup';
const STAGES: readonly Stage[] = ['archive', 'restore', 'backup'];

/** BENCH_WAL_ONLY: a comma-separated list of stages; an unknown one fails before any work. */
export function stagesFromEnv(value = process.env.BENCH_WAL_ONLY): Set<Stage> {
  if (!value) return new Set(STAGES);
  const out = new Set<Stage>();
  for (const v of value.split(',').map((x) => x.trim())) {
    if (!(STAGES as readonly string[]).includes(v))
      throw new Error(`BENCH_WAL_ONLY: unknown stage "${v}" (expected ${STAGES.join(', ')})`);
    out.add(v as Stage);
  }
  return out;
}

/** Runs one stage of the bench; a failure (or a give-up) names the stage. */
async function stage<T>(name: string, say: (m: string) => void, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  say(`wal bench: ${name} (load average ${loadavg()})`);
  try {
    const r = await fn();
    say(`wal bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return r;
  } catch (err) {
    throw new Error(
      `wal bench stage "${name}" failed after ${((performance.now() - t0) / 1000).toFixed(0)} s: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export async function benchWal(opts: BenchWalOptions = {}): Promise<BenchWalResult> {
  const say = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const only = stagesFromEnv();
  const segments = opts.segments ?? Number(process.env.BENCH_WAL_SEGMENTS ?? 130);
  const parallel = opts.parallel ?? 4;
  const ahead = opts.ahead ?? 64;
  const cleanup: (() => Promise<void> | void)[] = [];
  const rows: BenchWalRow[] = [];
  const restoreRows: BenchRestoreRow[] = [];
  const backupRows: BenchBackupRow[] = [];
  try {
    const work = await tempDir('bench');
    cleanup.push(() => rmSync(work, { recursive: true, force: true }));
    const s3 = await startS3('walbench');
    cleanup.push(() => s3.stop());
    const proxy = await tlsProxy(Number(new URL(s3.endpoint).port), work);
    cleanup.push(() => proxy.stop());
    await chownR(work);

    const pgbrConf = path.join(work, 'pgbackrest.conf');
    const source = await createCluster({
      walSegMb: 16,
      conf: {
        archive_mode: only.has('archive') ? 'on' : 'off',
        archive_command: '',
        max_wal_size: '8GB',
        checkpoint_timeout: '1h',
      },
    });
    cleanup.push(() => source.destroy());
    writeFileSync(
      pgbrConf,
      [
        '[global]',
        'repo1-type=s3',
        'repo1-path=/pgbackrest',
        `repo1-s3-bucket=${s3.bucket}`,
        'repo1-s3-endpoint=127.0.0.1',
        'repo1-s3-region=us-east-1',
        'repo1-s3-uri-style=path',
        `repo1-s3-key=${s3Env().AWS_ACCESS_KEY_ID}`,
        `repo1-s3-key-secret=${s3Env().AWS_SECRET_ACCESS_KEY}`,
        `repo1-storage-port=${proxy.port}`,
        'repo1-storage-verify-tls=n',
        'compress-type=zst',
        'archive-async=y',
        `process-max=${parallel}`,
        `spool-path=${work}/pgbr-spool`,
        `lock-path=${work}/pgbr-lock`,
        `log-path=${work}/pgbr-log`,
        'log-level-console=warn',
        'log-level-file=off',
        'start-fast=y',
        '',
        '[bench]',
        `pg1-path=${source.pgdata}`,
        `pg1-port=${source.port}`,
        `pg1-socket-path=${source.dir}`,
        'pg1-user=postgres',
        '',
      ].join('\n'),
    );
    await chownR(work);
    await source.start();
    // The stanza (pgBackRest's per-cluster repository record) must exist before archive-push;
    // every copy below shares this system identifier. walmgr's repository is initialised likewise.
    await runAsPostgres('pgbackrest', [`--config=${pgbrConf}`, '--stanza=bench', 'stanza-create'], {}, work);
    await initRepo(`s3://${s3.bucket}/walmgr`, s3.endpoint);
    say(`wal bench: writing ${segments} WAL segments of 16 MiB (load average ${loadavg()})`);
    await source.query('create table w (id bigint, a text, b text, n numeric)');
    const startLsn = (await source.query<{ l: string }>('select pg_current_wal_lsn()::text as l'))[0]!.l;
    const toBytes = (l: string) => {
      const [hi, lo] = l.split('/') as [string, string];
      return BigInt(`0x${hi}`) * 0x100000000n + BigInt(`0x${lo}`);
    };
    let id = 0;
    for (;;) {
      const cur = (await source.query<{ l: string }>('select pg_current_wal_lsn()::text as l'))[0]!.l;
      if (toBytes(cur) - toBytes(startLsn) >= BigInt(segments) * 16n * 1048576n) break;
      await source.query(
        `insert into w select g, md5(g::text), repeat(md5((g * 7)::text), 3), g * 1.5 from generate_series($1::bigint, $1::bigint + 49999) g`,
        [id],
      );
      id += 50_000;
    }
    await source.stop();
    const total = readyCount(source.pgdata);
    const walBytes = total * 16 * 1048576;
    say(`wal bench: ${total} segments ready (${(walBytes / 1048576).toFixed(0)} MiB)`);

    const copyOf = async (
      name: string,
      archiveCmd: (dir: string) => string,
      env: Record<string, string>,
    ): Promise<Cluster> => {
      const dir = path.join(work, name);
      await run('cp', ['-a', source.pgdata, dir]);
      // Each copy gets its own port/socket via createCluster's settings; drop stale pid files.
      rmSync(path.join(dir, 'postmaster.pid'), { force: true });
      await chownR(dir);
      const c = await createCluster({
        pgdata: dir,
        env,
        conf: { archive_mode: 'on', archive_command: archiveCmd(dir) },
      });
      cleanup.push(() => c.destroy());
      return c;
    };

    const report = (row: BenchWalRow) => {
      rows.push(row);
      say(
        `  ${row.tool}: ${row.seconds.toFixed(1)} s, ${row.segmentsPerSec.toFixed(1)} segments/s, CPU ${row.cpuSeconds?.toFixed(1) ?? '?'} s (server ${row.serverCpuSeconds.toFixed(1)} s), load ${row.load}`,
      );
    };
    const measure = async (tool: string, c: Cluster) => {
      const group = cpuGroup('archive');
      const self0 = cpuTimes().self;
      const secs = await timeArchive(c, total, say, tool, group);
      const self1 = cpuTimes().self;
      await c.stop();
      report({
        tool,
        segments: total,
        seconds: secs,
        segmentsPerSec: total / secs,
        mibPerSec: walBytes / 1048576 / secs,
        cpuSeconds: group ? await group.close() : null,
        serverCpuSeconds: self1 - self0,
        load: loadavg(),
      });
      return c;
    };

    const pgbr = await copyOf(
      'pgbackrest',
      (dir) => `pgbackrest --config=${pgbrConf} --stanza=bench --pg1-path=${dir} archive-push %p`,
      {},
    );
    const endpoint = `https://127.0.0.1:${proxy.port}`;
    const ourEnv = { NODE_EXTRA_CA_CERTS: proxy.cert };
    const oursFlags = `--repo s3://${s3.bucket}/walmgr --endpoint ${endpoint} --s3-conditional-put off --parallel ${parallel} --ahead ${ahead}`;
    const ours = await copyOf('walmgr', () => archiveCommand(oursFlags), ourEnv);
    const flagsArr = oursFlags.split(' ');

    if (only.has('archive'))
      await stage('archive: archive_command and restore_command rates', say, async () => {
        await measure('pgbackrest archive-push (async, zst, process-max 4)', pgbr);
        await measure(`skytools walmgr archive (ahead ${ahead}, zstd-1, parallel ${parallel})`, ours);

        // restore_command rate: fetch every archived segment in order, one command each.
        // The stopped source still holds every segment both tools archived.
        const names = readdirSync(path.join(source.pgdata, 'pg_wal'))
          .filter((n) => /^[0-9A-F]{24}$/.test(n))
          .sort();
        const fetchAll = async (
          tool: string,
          cmd: (f: string) => [string, string[]],
          env: Record<string, string>,
          cwd: string,
        ) => {
          const group = cpuGroup('restore');
          const self0 = cpuTimes().self;
          const t0 = performance.now();
          for (const f of names) {
            const [c, a] = cmd(f);
            await (group
              ? group.spawning(() => runAsPostgres(c, a, env, cwd))
              : runAsPostgres(c, a, env, cwd));
          }
          const secs = (performance.now() - t0) / 1000;
          const self1 = cpuTimes().self;
          report({
            tool,
            segments: names.length,
            seconds: secs,
            segmentsPerSec: names.length / secs,
            mibPerSec: (names.length * 16) / secs,
            cpuSeconds: group ? await group.close() : null,
            serverCpuSeconds: self1 - self0,
            load: loadavg(),
          });
        };
        await fetchAll(
          'pgbackrest archive-get (async, process-max 4)',
          (f) => [
            'pgbackrest',
            [
              `--config=${pgbrConf}`,
              '--stanza=bench',
              'archive-get',
              f,
              `${source.pgdata}/pg_wal/RECOVERYXLOG`,
            ],
          ],
          {},
          source.pgdata,
        );
        await fetchAll(
          'skytools walmgr restore-fast.sh → restore-wal (prefetch 8)',
          (f) => [
            path.resolve(import.meta.dirname, '../layers/walmgr/restore-fast.sh'),
            [f, 'pg_wal/RECOVERYXLOG', ...flagsArr, '--pgdata', source.pgdata],
          ],
          { ...s3Env(), ...ourEnv, SKYTOOLS_NODE: process.execPath },
          source.pgdata,
        );
      });

    // Full restore: one full base backup per tool of its own (archiving) copy — same data,
    // same system identifier — then each restored into an empty directory, same parallelism.
    const tools = { pgbr, ours, pgbrConf, oursFlags: flagsArr, oursEnv: ourEnv, work, say };
    if (only.has('restore') || only.has('backup'))
      backupRows.push(...(await stage('full base backups', say, () => fullBackups(tools))));

    const timeRestore = async (tool: string, dir: string, restore: () => Promise<void>) => {
      const load = loadavg();
      const group = cpuGroup('full-restore');
      const c0 = cpuTimes();
      const t0 = performance.now();
      await (group ? group.spawning(restore) : restore());
      const secs = (performance.now() - t0) / 1000;
      const c1 = cpuTimes();
      const groupCpu = group ? await group.close() : null;
      const bytes = await duBytes(dir);
      const row = {
        tool,
        bytes,
        seconds: secs,
        mibPerSec: bytes / 1048576 / secs,
        cpuSeconds: groupCpu ?? c1.children - c0.children,
        reapedCpuSeconds: c1.children - c0.children,
        serverCpuSeconds: c1.self - c0.self,
      };
      restoreRows.push(row);
      say(
        `  ${tool}: ${(bytes / 1048576).toFixed(0)} MiB in ${secs.toFixed(1)} s, ${row.mibPerSec.toFixed(1)} MiB/s, CPU ${row.cpuSeconds.toFixed(1)} s (reaped ${row.reapedCpuSeconds.toFixed(1)} s, server ${row.serverCpuSeconds.toFixed(1)} s), load ${load}`,
      );
      rmSync(dir, { recursive: true, force: true });
    };
    // Several pairs, back to back (BENCH_WAL_RESTORE_RUNS, default 2): on a shared machine
    // both tools' rates move with the load, so one pair says little.
    const restoreRuns = only.has('restore')
      ? Math.max(1, Number(process.env.BENCH_WAL_RESTORE_RUNS ?? 2))
      : 0;
    for (let pair = 0; pair < restoreRuns; pair++) {
      await stage(`full restores, pair ${pair + 1} of ${restoreRuns}`, say, async () => {
        const pgbrRestoreDir = path.join(work, 'restore-pgbackrest');
        await run('mkdir', ['-m', '700', pgbrRestoreDir]);
        await chownR(pgbrRestoreDir);
        await timeRestore(`pgbackrest restore (process-max ${parallel})`, pgbrRestoreDir, () =>
          runAsPostgres(
            'pgbackrest',
            [`--config=${pgbrConf}`, '--stanza=bench', `--pg1-path=${pgbrRestoreDir}`, 'restore'],
            {},
            work,
          ).then(() => {}),
        );
        const oursRestoreDir = path.join(work, 'restore-walmgr');
        await timeRestore(`skytools walmgr restore (parallel ${parallel})`, oursRestoreDir, async () => {
          const r = await walmgr(['restore', '--backup', 'latest', ...flagsArr, '--pgdata', oursRestoreDir], {
            env: { ...ourEnv, SKYTOOLS_NODE: process.execPath },
            asPostgres: true,
            cwd: REPO_ROOT,
            timeoutMs: 900_000,
          });
          if (r.code !== 0) throw new Error(`walmgr restore exited ${r.code}: ${r.stderr.slice(-3000)}`);
        });
      });
    }

    // Incrementals after changing 1% of the rows (wal-backup.ts), after the restores.
    if (only.has('backup'))
      backupRows.push(
        ...(await stage('incremental backups after 1% of the rows changed', say, () =>
          incrementalBackups(tools),
        )),
      );

    if (rows.length > 0) {
      const base = rows[0]!;
      console.log('\nwalmgr: WAL archive (16 MiB segments, same WAL, same local S3 endpoint over TLS)');
      console.log(
        `${'tool'.padEnd(58)} ${'segs'.padStart(5)} ${'s'.padStart(7)} ${'seg/s'.padStart(7)} ${'MiB/s'.padStart(7)} ${'÷pgBR'.padStart(6)} ${'CPU s'.padStart(6)} ${'÷pgBR'.padStart(6)} ${'srv s'.padStart(6)}  load`,
      );
      for (const [i, r] of rows.entries()) {
        const ref = i < 2 ? base : rows[2]!;
        const cpuRatio =
          r.cpuSeconds !== null && ref.cpuSeconds ? (r.cpuSeconds / ref.cpuSeconds).toFixed(2) : '?';
        console.log(
          `${r.tool.padEnd(58)} ${String(r.segments).padStart(5)} ${r.seconds.toFixed(1).padStart(7)} ${r.segmentsPerSec.toFixed(1).padStart(7)} ${r.mibPerSec.toFixed(0).padStart(7)} ${(r.segmentsPerSec / ref.segmentsPerSec).toFixed(2).padStart(6)} ${(r.cpuSeconds?.toFixed(1) ?? '?').padStart(6)} ${cpuRatio.padStart(6)} ${r.serverCpuSeconds.toFixed(1).padStart(6)}  ${r.load}`,
        );
      }
    }
    if (restoreRows.length > 0) {
      console.log(
        '\nwalmgr: full restore of a base backup into an empty directory (same endpoint), pairs in order',
      );
      console.log(
        `${'tool'.padEnd(58)} ${'MiB'.padStart(7)} ${'s'.padStart(7)} ${'MiB/s'.padStart(7)} ${'÷pgBR'.padStart(6)} ${'CPU s'.padStart(6)} ${'÷pgBR'.padStart(6)}`,
      );
      for (const [i, r] of restoreRows.entries()) {
        const rb = restoreRows[i - (i % 2)]!;
        console.log(
          `${r.tool.padEnd(58)} ${(r.bytes / 1048576).toFixed(0).padStart(7)} ${r.seconds.toFixed(1).padStart(7)} ${r.mibPerSec.toFixed(1).padStart(7)} ${(r.mibPerSec / rb.mibPerSec).toFixed(2).padStart(6)} ${r.cpuSeconds.toFixed(1).padStart(6)} ${(r.cpuSeconds / rb.cpuSeconds).toFixed(2).padStart(6)}`,
        );
      }
    }
    if (backupRows.length > 0) printBackupRows(backupRows);
    console.log(`\nload average at the end: ${loadavg()}`);
    return { wal: rows, restore: restoreRows, backup: backupRows };
  } finally {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => {});
  }
}

if (import.meta.main) {
  benchWal().catch((err: Error) => {
    console.error(err.stack ?? err.message);
    process.exitCode = 1;
  });
}
