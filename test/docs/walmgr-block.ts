// The README's walmgr walk-through, run line by line as the postgres OS user on a cluster of the
// test's own (initdb'd by test/walmgr/harness.ts, 1 MiB segments). Substitutions only: the
// paths under /srv and /var become temp dirs, the ports 5433/5434 free ones, the socket dir the
// cluster's, the --target-time a moment the test picks between two writes, pg_ctl the embedded
// server's. Between the steps the test writes what a user would (a row before and one after
// the target time) and checks each result: archiving on, the backup listed, the restored copy
// promoted with only the first rows, the standby paused.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { embeddedBinDir, freePort } from '../support/pg-server.ts';
import { createCluster, switchAndWaitArchived, tempDir, waitFor } from '../walmgr/harness.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const IS_ROOT = process.getuid?.() === 0;
const ASSIGNMENT = /^(export )?\w+=/;

/** Runs a shell line as postgres; output goes to a file, since a started postmaster keeps it open. */
async function shAsPostgres(script: string, dir: string, env: Record<string, string>) {
  const base = path.join(dir, `sh-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const [out, err] = [openSync(`${base}.out`, 'w'), openSync(`${base}.err`, 'w')];
  const argv = IS_ROOT ? ['runuser', '-u', 'postgres', '--', 'bash', '-c', script] : ['bash', '-c', script];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, err],
  });
  const code = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? 1)));
  closeSync(out);
  closeSync(err);
  const [stdout, stderr] = [readFileSync(`${base}.out`, 'utf8'), readFileSync(`${base}.err`, 'utf8')];
  rmSync(`${base}.out`, { force: true });
  rmSync(`${base}.err`, { force: true });
  return { code, stdout, stderr };
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

export async function runWalmgrBlock(text: string): Promise<void> {
  const primary = await createCluster();
  const work = await tempDir('readme');
  const [pitrPort, standbyPort] = [await freePort(), await freePort()];
  const paths: Record<string, string> = {
    '/srv/pg/main': primary.pgdata,
    '/var/backups/walmgr': path.join(work, 'walmgr'),
    '/srv/pitr': path.join(work, 'pitr'),
    '/srv/standby': path.join(work, 'standby'),
    'host=/var/run/postgresql': `host=${primary.dir}`,
    '-p 5433': `-p ${pitrPort}`,
    '-p 5434': `-p ${standbyPort}`,
    'port=5434': `port=${standbyPort}`,
  };
  let targetTime = '';
  const rewrite = (line: string) => {
    let l = line;
    for (const [from, to] of Object.entries(paths)) l = l.split(from).join(to);
    return l.replace(/--target-time '[^']+'/, `--target-time '${targetTime}'`);
  };
  const lines = text.split('\n');
  const vars = lines.filter((l) => ASSIGNMENT.test(l)).map(rewrite);
  const env = { DATABASE_URL: primary.url, PATH: `${embeddedBinDir()}:${process.env.PATH}` };
  const ran = new Set<string>();
  /** The next README command line matching re, run with the variable lines before it. */
  const step = async (re: RegExp) => {
    const line = lines.find((l) => !l.startsWith('#') && re.test(l));
    expect(line, `a README line matching ${re}`).toBeDefined();
    ran.add(line!);
    const script = [`export PATH='${env.PATH}'`, ...vars, rewrite(line!.replace(/\s+#.*$/, ''))].join('\n');
    const r = await shAsPostgres(script, work, env);
    expect(r.code, `${line}\n${r.stdout}${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const started: string[] = [];
  const pitrUrl = `postgres://postgres@127.0.0.1:${pitrPort}/postgres`;
  const standbyUrl = `postgres://postgres@127.0.0.1:${standbyPort}/postgres`;
  try {
    await primary.start();
    await step(/ init$/);
    await step(/ archive-command >>/);
    await step(/^pg_ctl restart$/);
    expect(await query(primary.url, 'show archive_mode')).toEqual([{ archive_mode: 'on' }]);

    await primary.query('create table t (n int); insert into t values (1)');
    const backupId = (await step(/ backup$/)).trim().split('\n').at(-1)!;
    expect(await step(/ listbackups/)).toContain(backupId);
    await step(/ verify/);

    // a row before the target time, one after it, both archived
    await primary.query('insert into t values (2)');
    await new Promise((r) => setTimeout(r, 1100));
    const [now] = await primary.query<{ t: string }>(
      "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as t",
    );
    targetTime = now!.t;
    await new Promise((r) => setTimeout(r, 1100));
    await primary.query('insert into t values (3)');
    await switchAndWaitArchived(primary);

    await step(/ restore --pgdata \/srv\/pitr /);
    started.push(paths['/srv/pitr']!);
    await step(/^pg_ctl -D \/srv\/pitr /);
    await waitFor(
      async () => (await query<{ r: boolean }>(pitrUrl, 'select pg_is_in_recovery() as r'))[0]?.r === false,
      60_000,
      'the point-in-time copy to promote',
    );
    expect(await query(pitrUrl, 'select n from t order by n')).toEqual([{ n: 1 }, { n: 2 }]);

    await step(/ restore --pgdata \/srv\/standby --standby/);
    started.push(paths['/srv/standby']!);
    await step(/^pg_ctl -D \/srv\/standby /);
    await step(/ pause /);
    await waitFor(
      async () =>
        (await query<{ p: boolean }>(standbyUrl, 'select pg_is_wal_replay_paused() as p'))[0]?.p === true,
      30_000,
      'the standby to pause',
    );
    const commands = lines.filter((l) => l.trim() !== '' && !l.startsWith('#') && !ASSIGNMENT.test(l));
    expect(commands.filter((l) => !ran.has(l))).toEqual([]);
  } finally {
    for (const dir of started) {
      await shAsPostgres(`pg_ctl -D '${dir}' -m immediate -w stop`, work, env).catch(() => {});
    }
    await primary.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}
