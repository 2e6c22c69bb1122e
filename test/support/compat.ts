// Access to the originals for the compatibility suite: a PostgreSQL server with Debian's
// SkyTools packages (C extension pgq, pgqd, python3-pgq). Tests skip, saying why, when a piece
// is missing, so `npm test` works on a machine without them; CI installs them.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

export const C_URL = process.env.PGQ_C_URL ?? 'postgres://root@localhost/postgres?host=/var/run/postgresql';

export interface CompatEnv {
  ok: boolean;
  reason: string;
  hasPgqd: boolean;
  hasPythonPgq: boolean;
  /** A python3 that can import the original pgq package (Debian's, not a pyenv shim). */
  python: string;
}

export async function probeCompat(): Promise<CompatEnv> {
  const env: CompatEnv = { ok: false, reason: '', hasPgqd: false, hasPythonPgq: false, python: 'python3' };
  const c = new pg.Client({ connectionString: C_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    const r = await c.query("select count(*)::int as n from pg_available_extensions where name = 'pgq'");
    if (r.rows[0].n === 0) {
      env.reason = `server ${C_URL} has no pgq extension available (install postgresql-15-pgq3)`;
      return env;
    }
  } catch (err) {
    env.reason = `no server with the original SkyTools at ${C_URL} (${(err as Error).message}); set PGQ_C_URL`;
    return env;
  } finally {
    await c.end().catch(() => {});
  }
  env.ok = true;
  env.hasPgqd = spawnSync('pgqd', ['-V']).status === 0;
  for (const py of [process.env.PGQ_PYTHON, '/usr/bin/python3', 'python3']) {
    if (py && spawnSync(py, ['-c', 'import pgq']).status === 0) {
      env.hasPythonPgq = true;
      env.python = py;
      break;
    }
  }
  return env;
}

export function urlFor(database: string): string {
  const u = new URL(C_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

/** libpq key=value connect string for the same server (for pgqd and python), without dbname. */
export function libpqBase(): string {
  const u = new URL(C_URL);
  const parts: string[] = [];
  const host = u.searchParams.get('host') ?? u.hostname;
  if (host) parts.push(`host=${host}`);
  if (u.port) parts.push(`port=${u.port}`);
  if (u.username) parts.push(`user=${decodeURIComponent(u.username)}`);
  if (u.password) parts.push(`password=${decodeURIComponent(u.password)}`);
  return parts.join(' ');
}

export async function adminQuery(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: C_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Two fresh databases on the originals' server, side by side: one set up with the original
 * extensions, one with our SQL; created before the describe's tests and dropped after. */
export function useSideBySide(
  prefix: string,
  setup: { original: (c: pg.Client) => Promise<unknown>; ours: (c: pg.Client) => Promise<unknown> },
): { readonly original: pg.Client; readonly ours: pg.Client } {
  const suffix = randomBytes(4).toString('hex');
  const names = { original: `${prefix}_c_${suffix}`, ours: `${prefix}_o_${suffix}` };
  const clients: { original?: pg.Client; ours?: pg.Client } = {};
  beforeAll(async () => {
    for (const side of ['original', 'ours'] as const) {
      await adminQuery(`create database ${names[side]}`);
      const c = new pg.Client({ connectionString: urlFor(names[side]) });
      await c.connect();
      clients[side] = c;
      await setup[side](c);
    }
  });
  afterAll(async () => {
    for (const side of ['original', 'ours'] as const) {
      await clients[side]?.end().catch(() => {});
      await adminQuery(`drop database if exists ${names[side]} with (force)`).catch(() => {});
    }
  });
  return {
    get original() {
      return clients.original!;
    },
    get ours() {
      return clients.ours!;
    },
  };
}
