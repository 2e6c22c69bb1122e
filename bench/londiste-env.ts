// What the Londiste bench needs around the tools it measures: servers (the Debian server with the
// originals, and a `wal_level = logical` Debian cluster made here for native replication),
// databases, the workload table, processes with their logs, pgbench, the raw COPY pipe.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A server: its admin URL and libpq parts (python3-londiste, pgqd, psql and pgbench want them). */
export interface Server {
  name: string;
  adminUrl: string;
  host: string;
  port: string;
  user: string;
}

export function serverFromUrl(name: string, url: string): Server {
  const u = new URL(url);
  return {
    name,
    adminUrl: url,
    host: u.searchParams.get('host') ?? (u.hostname || '/var/run/postgresql'),
    port: u.port || '5432',
    user: decodeURIComponent(u.username) || 'postgres',
  };
}

export const urlOf = (s: Server, db: string) => {
  const u = new URL(s.adminUrl);
  u.pathname = `/${db}`;
  u.port = s.port;
  return u.toString();
};
export const libpqOf = (s: Server, db: string) => `host=${s.host} port=${s.port} user=${s.user} dbname=${db}`;
/** psql / pgbench arguments naming the server and database. */
export const cliArgs = (s: Server, db: string) => ['-h', s.host, '-p', s.port, '-U', s.user, '-d', db];

export async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  return c;
}

export async function adminSql(s: Server, sql: string): Promise<pg.QueryResult> {
  const c = await client(s.adminUrl);
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Drops (first cutting sessions and replication slots of) and creates each database. */
export async function freshDbs(s: Server, names: string[]): Promise<void> {
  await dropDbs(s, names);
  for (const n of names) await adminSql(s, `create database ${n}`);
}

export async function dropDbs(s: Server, names: string[]): Promise<void> {
  for (const n of names) {
    await adminSql(
      s,
      `select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = '${n}' and not active`,
    ).catch(() => {});
    await adminSql(s, `drop database if exists ${n} with (force)`);
  }
}

/** The workload table. `withRows`: filled with ids 1..rows. */
export const TABLE_DDL = 'create table public.t (id bigint primary key, v text, n int, ts timestamptz)';

export async function createWorkloadTable(url: string, rows: number): Promise<void> {
  const c = await client(url);
  try {
    await c.query(TABLE_DDL);
    // Inserts of the load take ids from here: above every id the bench ever writes otherwise.
    await c.query('create sequence public.t_ins start 1000000000');
    if (rows > 0) {
      await c.query(
        'insert into public.t select g, md5(g::text), g % 1000, now() from generate_series(1, $1::bigint) g',
        [rows],
      );
      await c.query('vacuum analyze public.t');
    }
  } finally {
    await c.end();
  }
}

/** Rows of t on a database (count only: the bench checks tables end equal in size). */
export async function countRows(url: string): Promise<number> {
  const c = await client(url);
  try {
    return Number((await c.query('select count(*)::bigint as n from public.t')).rows[0].n);
  } finally {
    await c.end();
  }
}

/** Polls `check` every `everyMs` until true; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A background process whose stdout+stderr go to `logFile`. */
export class Proc {
  readonly child: ChildProcess;
  readonly label: string;
  readonly logFile: string;
  constructor(label: string, cmd: string, args: string[], logFile: string, env: Record<string, string> = {}) {
    this.label = label;
    this.logFile = logFile;
    const fd = openSync(logFile, 'a');
    this.child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }
  tail(chars = 2000): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').slice(-chars) : '';
  }
}

/** Runs a command to its end; throws with its output when it fails. */
export async function runCmd(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(cmd, args, {
      encoding: 'utf8',
      timeout: 900_000,
      maxBuffer: 64 << 20,
      env: { ...process.env, ...env },
    });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

/**
 * The load: one row per transaction, half UPDATEs of a random existing id (1..rows), half INSERTs
 * of new ids — a pgbench custom script, `events` transactions over `clients` connections.
 */
export function pgbenchScript(rows: number): string {
  return [
    `\\set id random(1, ${rows})`,
    '\\set r random(0, 1)',
    '\\if :r = 0',
    'update public.t set v = md5(random()::text), n = n + 1, ts = now() where id = :id;',
    '\\else',
    "insert into public.t values (nextval('public.t_ins'), md5(random()::text), :id, now());",
    '\\endif',
    '',
  ].join('\n');
}

/** Runs the load (pgbench -t); returns the tps pgbench reports (without connection time). */
export async function pgbenchLoad(
  s: Server,
  db: string,
  script: string,
  events: number,
  clients: number,
): Promise<number> {
  const perClient = Math.max(1, Math.round(events / clients));
  const { stdout } = await runCmd('pgbench', [
    ...cliArgs(s, db),
    '-n',
    '-f',
    script,
    '-c',
    String(clients),
    '-j',
    String(Math.min(clients, 2)),
    '-t',
    String(perClient),
  ]);
  const m = /tps = ([\d.]+)/.exec(stdout);
  if (!m) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return Number(m[1]);
}

/** psql -c "copy t to stdout" | psql -c "copy t from stdin", as one shell pipeline; seconds. */
export async function rawPipe(s: Server, srcDb: string, dstDb: string): Promise<number> {
  const q = (a: string[]) => a.map((x) => `'${x.replace(/'/g, "'\\''")}'`).join(' ');
  const line = `set -o pipefail; psql -X -q ${q(cliArgs(s, srcDb))} -c 'copy public.t to stdout' | psql -X -q ${q(cliArgs(s, dstDb))} -v ON_ERROR_STOP=1 -c 'copy public.t from stdin'`;
  const t0 = performance.now();
  await runCmd('bash', ['-c', line]);
  return (performance.now() - t0) / 1000;
}

export const loadAverage = () =>
  readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number) as [number, number, number];

/**
 * A Debian PostgreSQL 15 cluster with wal_level = logical (same binaries and createcluster
 * defaults as the server with the originals), created once and kept between runs
 * (`pg_dropcluster 15 lbench --stop` removes it); started for the bench, stopped after.
 */
export async function logicalCluster(port = 5439): Promise<{ server: Server; stop: () => Promise<void> }> {
  const name = 'lbench';
  if (!existsSync('/usr/bin/pg_createcluster'))
    throw new Error('pg_createcluster not found (Debian postgresql-common)');
  if (!existsSync(`/etc/postgresql/15/${name}`)) {
    await runCmd('pg_createcluster', [
      '15',
      name,
      '-p',
      String(port),
      '-o',
      'wal_level=logical',
      '-o',
      'max_locks_per_transaction=256',
    ]);
  }
  const status = spawnSync('pg_ctlcluster', ['15', name, 'status']);
  if (status.status !== 0) await runCmd('pg_ctlcluster', ['15', name, 'start']);
  const conf = readFileSync(`/etc/postgresql/15/${name}/postgresql.conf`, 'utf8');
  const realPort = /^port\s*=\s*(\d+)/m.exec(conf)?.[1] ?? String(port);
  const psqlAsPostgres = (sql: string) =>
    runCmd('runuser', ['-u', 'postgres', '--', 'psql', '-X', '-q', '-p', realPort, '-c', sql]);
  const me = (await run('id', ['-un'], { encoding: 'utf8' })).stdout.trim();
  if (me !== 'postgres')
    await psqlAsPostgres(
      `do $$ begin if not exists (select 1 from pg_roles where rolname = '${me}') then create role "${me}" superuser login; end if; end $$`,
    );
  const server = serverFromUrl(
    'logical',
    `postgres://${me}@localhost:${realPort}/postgres?host=/var/run/postgresql`,
  );
  const wal = (await adminSql(server, 'show wal_level')).rows[0].wal_level;
  if (wal !== 'logical') throw new Error(`cluster 15/${name} has wal_level = ${wal}, not logical`);
  return { server, stop: () => runCmd('pg_ctlcluster', ['15', name, 'stop']).then(() => {}) };
}
