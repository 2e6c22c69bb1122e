// The original clients on our SQL: Debian's pgqd ticks (and rotates, and retries) a database
// that has our PgQ schema, while a consumer written with the original python3-pgq framework
// reads every event produced through our insert_event (and our triggers, when installed).
// Nothing may be lost or delivered twice.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { adminQuery, libpqBase, probeCompat, urlFor } from '../support/compat.ts';

const env = await probeCompat();
const ready = env.ok && env.hasPgqd && env.hasPythonPgq;
if (!ready) {
  console.warn(
    `compat (pgqd + python3-pgq on our SQL) skipped: ${env.reason || 'pgqd or python3-pgq not installed (apt-get install pgqd python3-pgq)'}`,
  );
}

describe.runIf(ready)('original pgqd and python3-pgq consumer on our PgQ', () => {
  const dbName = `compat_${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-compat-'));
  const procs: ChildProcess[] = [];
  let db: pg.Client;

  beforeAll(async () => {
    await adminQuery(`create database ${dbName}`);
    db = new pg.Client({ connectionString: urlFor(dbName) });
    await db.connect();
    await install(db);
    await db.query("select pgq.create_queue('compat_q')");
    // Tick fast and rotate every second so pgqd drives our rotation during the run.
    await db.query("select pgq.set_queue_config('compat_q', 'ticker_max_lag', '0.1 seconds')");
    await db.query("select pgq.set_queue_config('compat_q', 'ticker_idle_period', '1 second')");
    await db.query("select pgq.set_queue_config('compat_q', 'rotation_period', '1 second')");
    await db.query(
      'create table compat_seen (ev_id bigint primary key, ev_type text, ev_data text, ev_extra1 text, ev_retry int)',
    );
  });

  afterAll(async () => {
    for (const p of procs) p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await db?.end().catch(() => {});
    await adminQuery(`drop database if exists ${dbName} with (force)`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every event exactly once, through ticks, rotations and a retry', async () => {
    const consumerIni = path.join(dir, 'consumer.ini');
    writeFileSync(
      consumerIni,
      [
        '[compat_consumer]',
        'job_name = compat_consumer',
        `src_db = ${libpqBase()} dbname=${dbName}`,
        'queue_name = compat_q',
        `logfile = ${dir}/consumer.log`,
        `pidfile = ${dir}/consumer.pid`,
        'loop_delay = 0.1',
        'pgq_lazy_fetch = 50',
        '',
      ].join('\n'),
    );
    const script = path.join(import.meta.dirname, 'fixtures', 'recording_consumer.py');
    const reg = spawnSync(env.python, [script, consumerIni, '--register'], { encoding: 'utf8' });
    expect(reg.status, reg.stderr).toBe(0);
    expect(
      (await db.query("select * from pgq.get_consumer_info('compat_q')")).rows.map((r) => r.consumer_name),
    ).toEqual(['compat_consumer']);

    const pgqdIni = path.join(dir, 'pgqd.ini');
    writeFileSync(
      pgqdIni,
      [
        '[pgqd]',
        `logfile = ${dir}/pgqd.log`,
        `pidfile = ${dir}/pgqd.pid`,
        `base_connstr = ${libpqBase()}`,
        `initial_database = ${dbName}`,
        `database_list = ${dbName}`,
        'ticker_period = 0.1',
        'retry_period = 1',
        'maint_period = 1',
        'check_period = 60',
        '',
      ].join('\n'),
    );
    procs.push(spawn('pgqd', [pgqdIni], { stdio: 'ignore' }));
    procs.push(spawn(env.python, [script, consumerIni], { stdio: 'ignore' }));

    const hasTriggers = (await db.query("select to_regproc('pgq.logutriga') is not null as ok")).rows[0].ok;
    if (hasTriggers) {
      await db.query('create table compat_src (id int primary key, val text)');
      await db.query(
        "create trigger compat_src_ev after insert or update or delete on compat_src for each row execute procedure pgq.logutriga('compat_q')",
      );
    }

    // Produce from several connections over a few seconds, so batches span ticks and rotations.
    const expected = new Map<string, string>();
    const writers = await Promise.all(
      [0, 1, 2].map(async () => {
        const c = new pg.Client({ connectionString: urlFor(dbName) });
        await c.connect();
        return c;
      }),
    );
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        writers.map(async (w, i) => {
          await w.query('begin');
          for (let k = 0; k < 10; k++) {
            const data = `w${i}-r${round}-k${k} & ünïcode = 100%`;
            expected.set(data, 'plain');
            await w.query("select pgq.insert_event('compat_q', 'plain', $1, 'x1', null, null, null)", [data]);
          }
          await w.query('commit');
        }),
      );
      if (hasTriggers) {
        await db.query('insert into compat_src values ($1, $2)', [round, `v${round}`]);
        expected.set(`trigger-${round}`, 'trigger');
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    await db.query("select pgq.insert_event('compat_q', 'retry-me', 'comes back once')");
    expected.set('comes back once', 'retry-me');
    await Promise.all(writers.map((w) => w.end()));

    const deadline = Date.now() + 60_000;
    let seen: { ev_type: string; ev_data: string; ev_retry: number | null; ev_extra1: string | null }[] = [];
    while (Date.now() < deadline) {
      seen = (await db.query('select ev_type, ev_data, ev_retry, ev_extra1 from compat_seen order by ev_id'))
        .rows;
      if (seen.length >= expected.size) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const logTail = () => {
      const read = (f: string) => {
        try {
          return readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-15).join('\n');
        } catch {
          return '(no log)';
        }
      };
      return `pgqd.log:\n${read('pgqd.log')}\nconsumer.log:\n${read('consumer.log')}`;
    };
    expect(seen.length, logTail()).toBe(expected.size);
    const plain = seen.filter((s) => s.ev_type === 'plain');
    expect(new Set(plain.map((s) => s.ev_data))).toEqual(
      new Set([...expected].filter(([, t]) => t === 'plain').map(([d]) => d)),
    );
    expect(plain.every((s) => s.ev_extra1 === 'x1')).toBe(true);
    expect(seen.find((s) => s.ev_type === 'retry-me')).toMatchObject({
      ev_data: 'comes back once',
      ev_retry: 1,
    });
    if (hasTriggers) {
      const trig = seen.filter((s) => s.ev_type.startsWith('I:'));
      expect(trig).toHaveLength(20);
      expect(trig.every((s) => s.ev_extra1 === 'public.compat_src')).toBe(true);
    }
    // pgqd ran our maintenance: the queue rotated at least once.
    const rot = await db.query(
      "select queue_switch_time > now() - interval '1 minute' as rotated from pgq.queue where queue_name = 'compat_q'",
    );
    expect(rot.rows[0].rotated, logTail()).toBe(true);
  });
});
