// `skytools install` over a database that has the original C extension: refused, with the line of
// the check and the server's HINT (what to do), as psql would show it — and nothing changed.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, probeCompat, urlFor } from '../support/compat.ts';

const env = await probeCompat();
if (!env.ok) console.warn(`compat (install over the C extension) skipped: ${env.reason}`);
const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');

describe.runIf(env.ok)('install over the C extension', () => {
  const dbName = `inst_c_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    await adminQuery(`create database ${dbName}`);
    const c = new pg.Client({ connectionString: urlFor(dbName) });
    await c.connect();
    await c.query('create extension pgq');
    await c.end();
  });
  afterAll(async () => {
    await adminQuery(`drop database if exists ${dbName} with (force)`);
  });

  it('refuses, naming the check line and passing the HINT on', async () => {
    const r = spawnSync(process.execPath, [cli, 'install', '--db', urlFor(dbName)], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/install failed at preflight\.sql:8: the C extension "pgq" is installed/);
    expect(r.stderr).toMatch(/HINT: .*DROP EXTENSION pgq CASCADE/);
    const c = new pg.Client({ connectionString: urlFor(dbName) });
    await c.connect();
    const ext = await c.query("select extversion from pg_extension where extname = 'pgq'");
    await c.end();
    expect(ext.rowCount).toBe(1);
  });
});
