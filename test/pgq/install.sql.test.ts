// Installing the SQL: as a role with only CREATE on the database, from TypeScript and from
// psql, and again over an installed schema without losing queued events.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { InstallError, install } from '../../layers/install/installer.ts';
import { loadManifest } from '../../layers/install/manifest.ts';
import { useTestDatabase, withRole } from '../support/db.ts';
import { drain, tick } from '../support/pgq.ts';

const db = useTestDatabase({ empty: true });
const repoRoot = path.resolve(import.meta.dirname, '../..');
const hasPsql = spawnSync('psql', ['--version']).status === 0;

describe('install', () => {
  it('installs as a role that has only CREATE on the database (no superuser)', async () => {
    const role = `app_${randomBytes(4).toString('hex')}`;
    await db.query(`create role ${role} login password 'pw'`);
    await db.query(`grant create on database ${db.name} to ${role}`);
    await withRole(db.url, role, async (c) => {
      const res = await install(c);
      expect(res.pgqVersion).toMatch(/^3\./);
      await c.query("select pgq.create_queue('q1')");
      await c.query("select pgq.register_consumer('q1', 'c')");
      await c.query("select pgq.insert_event('q1', 'T', 'hello')");
      await tick(c, 'q1');
      expect(await drain(c, 'q1', 'c')).toEqual(['hello']);
    });
    const owner = await db.one("select nspowner::regrole::text as o from pg_namespace where nspname = 'pgq'");
    expect(owner.o).toBe(role);
  });

  it('re-running the installer keeps queued events and subscriptions', async () => {
    await db.query("select pgq.insert_event('q1', 'T', 'kept')");
    const c = await db.connect();
    await install(c);
    await install(c);
    await tick(db, 'q1');
    expect(await drain(db, 'q1', 'c')).toEqual(['kept']);
  });

  it.runIf(hasPsql)('psql -f sql/install.sql installs and re-installs cleanly', async () => {
    const fresh = `t_psql_${randomBytes(4).toString('hex')}`;
    await db.query(`create database ${fresh}`);
    const u = new URL(db.url);
    u.pathname = `/${fresh}`;
    try {
      for (let i = 0; i < 2; i++) {
        execFileSync(
          'psql',
          ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', u.toString(), '-f', 'sql/install.sql'],
          {
            cwd: repoRoot,
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
      }
      const c = new pg.Client({ connectionString: u.toString() });
      await c.connect();
      try {
        expect((await c.query("select pgq.create_queue('p') as r")).rows[0].r).toBe(1);
      } finally {
        await c.end();
      }
    } finally {
      await db.query(`drop database ${fresh} with (force)`);
    }
  });

  it('the manifest lists every function file exactly once', async () => {
    const { readdirSync } = await import('node:fs');
    const files = new Set(loadManifest('install.sql').map((c) => c.file));
    for (const mod of ['pgq']) {
      for (const f of readdirSync(path.join(repoRoot, 'sql', mod, 'functions'))) {
        expect(files.has(path.join(mod, 'functions', f))).toBe(true);
      }
    }
  });

  it('a failing statement is reported with file and line and leaves nothing behind', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'manifest-'));
    writeFileSync(path.join(dir, 'install.sql'), 'begin;\n\\ir part.sql\ncommit;\n');
    writeFileSync(
      path.join(dir, 'part.sql'),
      'create schema broken_install;\n\nselect no_such_function();\n',
    );
    const c = await db.connect();
    const err = await install(c, { manifest: path.join(dir, 'install.sql') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstallError);
    expect((err as Error).message).toMatch(/part\.sql:3: function no_such_function\(\) does not exist/);
    const r = await db.one("select count(*)::int as n from pg_namespace where nspname = 'broken_install'");
    expect(r.n).toBe(0);
  });

  it('an error raised in a DO block names its line and passes the server HINT and DETAIL on', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'manifest-'));
    writeFileSync(path.join(dir, 'install.sql'), 'begin;\n\\ir check.sql\ncommit;\n');
    writeFileSync(
      path.join(dir, 'check.sql'),
      [
        '-- a preflight check',
        'do $check$',
        'begin',
        '    if true then',
        "        raise exception 'refused here' using detail = 'the detail', hint = 'do this instead';",
        '    end if;',
        'end',
        '$check$;',
      ].join('\n'),
    );
    const c = await db.connect();
    const err = await install(c, { manifest: path.join(dir, 'install.sql') }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^install failed at \S*check\.sql:5: refused here\nDETAIL: the detail\nHINT: do this instead$/,
    );
  });

  it('`skytools install` says in one line whether it installed, upgraded or found PgQ current', async () => {
    const cli = path.join(repoRoot, 'bin/skytools.ts');
    const fresh = `t_cli_${randomBytes(4).toString('hex')}`;
    await db.query(`create database ${fresh}`);
    const u = new URL(db.url);
    u.pathname = `/${fresh}`;
    try {
      const run = (...extra: string[]) =>
        spawnSync(process.execPath, [cli, 'install', '--db', u.toString(), ...extra], { encoding: 'utf8' });
      const first = run();
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(
        new RegExp(`^installed PgQ 3\\.[\\d.]+ in database ${fresh} \\(\\d+ files\\)\\n$`),
      );
      expect(first.stderr).toBe('');
      const again = run('--verbose');
      expect(again.stdout).toMatch(/^PgQ 3\.[\d.]+ already current \(functions re-applied\) in database /);
      expect(again.stderr).toContain('pgq/functions/pgq.next_batch.sql');
      expect(first.stdout + again.stdout).not.toContain(u.password);
      // the libpq key=value form works wherever a connection is taken, as in the originals
      const libpq = `host=${u.hostname} port=${u.port} user=${u.username} password=${u.password} dbname=${fresh}`;
      const third = spawnSync(process.execPath, [cli, 'install', '--db', libpq], {
        encoding: 'utf8',
        env: { ...process.env, DATABASE_URL: '' },
      });
      expect(third.stderr).toBe('');
      expect(third.stdout).toMatch(new RegExp(`already current .* in database ${fresh} `));
    } finally {
      await db.query(`drop database ${fresh} with (force)`);
    }
  });
});
