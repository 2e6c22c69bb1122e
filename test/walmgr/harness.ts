// Real parts for the walmgr tests: PostgreSQL clusters created with initdb (embedded
// PostgreSQL 15 binaries, run as the `postgres` OS user when we are root), an S3 endpoint over
// HTTP (in-process fauxqs, or AWS_ENDPOINT_URL when set), and a TCP proxy that can cut the
// connection to it ("S3 unavailable").
import { execFile, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { openStorage } from '../../layers/storage/index.ts';
import { initRepository } from '../../layers/walmgr/repository.ts';
import { embeddedBinDir, freePort } from '../support/pg-server.ts';

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'bin/skytools.ts');
export const FAST_ARCHIVE = path.join(ROOT, 'layers/walmgr/archive-fast.sh');
const IS_ROOT = process.getuid?.() === 0;

let pgUid = -1;
let pgGid = -1;
async function pgIds(): Promise<void> {
  if (!IS_ROOT || pgUid >= 0) return;
  pgUid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  pgGid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
}

/** A temp dir the postgres OS user can use. */
export async function tempDir(tag: string): Promise<string> {
  await pgIds();
  const dir = mkdtempSync(path.join(os.tmpdir(), `skytools-walmgr-${tag}-`));
  if (IS_ROOT) chownSync(dir, pgUid, pgGid);
  return dir;
}

export async function chownR(dir: string): Promise<void> {
  if (IS_ROOT) await run('chown', ['-R', 'postgres:postgres', dir]);
}

/** Env for processes that talk to S3 (the archiver and restore_command inherit it). */
export function s3Env(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  };
}

async function asPostgres(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  const fullEnv = { ...process.env, ...env };
  if (IS_ROOT)
    return run('runuser', ['-u', 'postgres', '--', cmd, ...args], { env: fullEnv, maxBuffer: 1 << 24 });
  return run(cmd, args, { env: fullEnv, maxBuffer: 1 << 24 });
}

export interface Cluster {
  dir: string;
  pgdata: string;
  port: number;
  url: string;
  env: Record<string, string>;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  start(extra?: string[]): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  destroy(): Promise<void>;
  log(): Promise<string>;
}

export interface ClusterOptions {
  /** archive_command (PostgreSQL-level quoting is done here). */
  archiveCommand?: string;
  /** Environment the postmaster (and so archive_command/restore_command) gets. */
  env?: Record<string, string>;
  /** initdb --wal-segsize, MiB. Small segments keep tests fast. */
  walSegMb?: number;
  /** Use an existing data directory (restored) instead of initdb. */
  pgdata?: string;
  conf?: Record<string, string>;
}

function confLine(k: string, v: string): string {
  return `${k} = '${v.replace(/'/g, "''")}'`;
}

export async function createCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const bin = embeddedBinDir();
  const dir = await tempDir('pg');
  const pgdata = opts.pgdata ?? path.join(dir, 'data');
  const port = await freePort();
  const env = { ...s3Env(), SKYTOOLS_NODE: process.execPath, ...(opts.env ?? {}) };
  if (!opts.pgdata) {
    await asPostgres(path.join(bin, 'initdb'), [
      '-D',
      pgdata,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      `--wal-segsize=${opts.walSegMb ?? 1}`,
      '--no-sync',
    ]);
  }
  const conf: Record<string, string> = {
    port: String(port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    fsync: 'off',
    full_page_writes: 'on',
    wal_level: 'replica',
    max_wal_senders: '2',
    shared_buffers: '16MB',
    max_connections: '20',
    logging_collector: 'off',
    ...(opts.archiveCommand ? { archive_mode: 'on', archive_command: opts.archiveCommand } : {}),
    ...(opts.conf ?? {}),
  };
  // postgresql.auto.conf is read last; restored clusters keep their restore settings there.
  await fs.appendFile(
    path.join(pgdata, 'postgresql.conf'),
    `\n${Object.entries(conf)
      .map(([k, v]) => confLine(k, v))
      .join('\n')}\n`,
  );
  await chownR(pgdata);
  const logFile = path.join(dir, 'server.log');
  let running = false;
  const c: Cluster = {
    dir,
    pgdata,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    env,
    async query(sql, params) {
      const client = new pg.Client({ connectionString: c.url });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    async start(extra = []) {
      await asPostgres(
        path.join(bin, 'pg_ctl'),
        ['-D', pgdata, '-l', logFile, '-w', '-t', '120', '-o', extra.join(' '), 'start'],
        env,
      );
      running = true;
    },
    async stop(mode = 'fast') {
      if (!running) return;
      running = false;
      await asPostgres(path.join(bin, 'pg_ctl'), ['-D', pgdata, '-m', mode, '-w', 'stop']).catch(() => {});
    },
    async destroy() {
      await c.stop('immediate');
      rmSync(dir, { recursive: true, force: true });
      if (opts.pgdata) rmSync(opts.pgdata, { recursive: true, force: true });
    },
    async log() {
      return fs.readFile(logFile, 'utf8').catch(() => '');
    },
  };
  return c;
}

/** Switches to a new WAL segment and waits until the completed one is archived. */
export async function switchAndWaitArchived(c: Cluster, timeoutMs = 60_000): Promise<string> {
  const [row] = await c.query<{ f: string }>('select pg_walfile_name(pg_switch_wal()) as f');
  const want = row!.f;
  await waitFor(
    async () => {
      const [s] = await c.query<{ last: string | null }>(
        'select last_archived_wal as last from pg_stat_archiver',
      );
      return Boolean(s?.last && s.last >= want);
    },
    timeoutMs,
    `WAL ${want} archived`,
    c,
  );
  return want;
}

export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  c?: Cluster,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out waiting for ${what}${c ? `\n--- server log ---\n${(await c.log()).slice(-4000)}` : ''}`,
  );
}

/**
 * Starts PostgreSQL on a data directory `walmgr restore` wrote (archiving off) and waits until
 * recovery has ended and the server is read-write; the caller destroys it. A recovery that does
 * not end fails with the server's log, and the server and its directories are removed.
 */
export async function startRestored(pgdata: string, timeoutMs = 90_000): Promise<Cluster> {
  const c = await createCluster({ pgdata, conf: { archive_mode: 'off' } });
  try {
    await c.start();
    await waitFor(
      async () => (await c.query<{ r: boolean }>('select pg_is_in_recovery() as r'))[0]?.r === false,
      timeoutMs,
      'end of recovery',
      c,
    );
  } catch (err) {
    await c.destroy();
    throw err;
  }
  return c;
}

export interface S3Endpoint {
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

/** fauxqs in-process, or the endpoint named by AWS_ENDPOINT_URL. */
export async function startS3(bucket: string): Promise<S3Endpoint> {
  // In-process clients (the tests' own storage handles) use the same credentials as the CLI.
  for (const [k, v] of Object.entries(s3Env())) process.env[k] ??= v;
  if (process.env.AWS_ENDPOINT_URL) {
    const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({
      endpoint: process.env.AWS_ENDPOINT_URL,
      forcePathStyle: true,
      region: s3Env().AWS_REGION,
    });
    await client.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => {});
    client.destroy();
    return { endpoint: process.env.AWS_ENDPOINT_URL, bucket, stop: async () => {} };
  }
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
  server.createBucket(bucket);
  return { endpoint: `http://127.0.0.1:${server.port}`, bucket, stop: () => server.stop() };
}

/** A TCP proxy in front of an endpoint; `down()` refuses and cuts connections, `up()` restores. */
export interface Proxy {
  endpoint: string;
  down(): void;
  up(): void;
  stop(): Promise<void>;
}

export async function startProxy(target: string): Promise<Proxy> {
  const t = new URL(target);
  const sockets = new Set<net.Socket>();
  let isUp = true;
  const server = net.createServer((client) => {
    if (!isUp) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(t.port), t.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    down() {
      isUp = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    up() {
      isUp = true;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `skytools walmgr …` as a child process (optionally as the postgres OS user). */
export function walmgr(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; asPostgres?: boolean; timeoutMs?: number } = {},
): Promise<CliResult> {
  const argv = [CLI, 'walmgr', ...args];
  const [cmd, full] =
    opts.asPostgres && IS_ROOT
      ? ['runuser', ['-u', 'postgres', '--', process.execPath, ...argv]]
      : [process.execPath, argv];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, full as string[], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...s3Env(), ...(opts.env ?? {}) },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // A hung command fails its test with what it printed, not a silent hook timeout.
    const limit = opts.timeoutMs ?? 150_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`skytools walmgr ${args.join(' ')} still running after ${limit} ms; stderr:\n${stderr}`),
      );
    }, limit);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** archive_command for a cluster: the sh fast path in front of `walmgr archive`. */
export function archiveCommand(repoFlags: string): string {
  return `${FAST_ARCHIVE} %p %f ${repoFlags}`;
}

export function restoreCommandFlags(repo: string, endpoint?: string): string[] {
  return ['--repo', repo, ...(endpoint ? ['--endpoint', endpoint] : [])];
}

/**
 * Initialises a repository as `walmgr init` does (its marker; a local directory is created):
 * every walmgr command but init refuses a repository without it.
 */
export async function initRepo(repo: string, endpoint?: string): Promise<void> {
  const storage = await openStorage(repo, endpoint ? { endpoint, conditionalPut: false } : {});
  try {
    await initRepository(storage);
  } finally {
    storage.close();
  }
}
