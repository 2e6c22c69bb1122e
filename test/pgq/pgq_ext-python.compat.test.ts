// Our pgq_ext with the original clients: python3-pgq's RemoteConsumer and SerialConsumer track
// their batches in a target database that has our pgq_ext (installed alone), and share that
// tracking with our TypeScript consumers. Our consumer is killed after its target commit and
// before finish_batch; the python consumer then takes over the same consumer name, must finish
// the killed batch without applying it again, and apply the rest: every event exactly once.
// The queue database runs our PgQ and the C extension.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { typeParsers } from '../../layers/db/connection.ts';
import { install } from '../../layers/install/installer.ts';
import { loadManifest } from '../../layers/install/manifest.ts';
import { adminQuery, libpqBase, probeCompat, urlFor } from '../support/compat.ts';
import { killAfterTargetCommit } from '../support/crash.ts';
import { tick } from '../support/pgq.ts';

const env = await probeCompat();
const ready = env.ok && env.hasPythonPgq;
if (!ready) {
  console.warn(
    `compat (python3-pgq remote/serial consumers on our pgq_ext) skipped: ${env.reason || 'no python3-pgq'}`,
  );
}

const script = path.join(import.meta.dirname, 'fixtures', 'remote_consumer.py');

describe.runIf(ready)('python3-pgq RemoteConsumer / SerialConsumer on our pgq_ext', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-pgqext-'));
  const dbs: string[] = [];
  const clients: pg.Client[] = [];
  const procs: ChildProcess[] = [];

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    for (const d of dbs) await adminQuery(`drop database if exists ${d} with (force)`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  async function database(prefix: string): Promise<{ name: string; c: pg.Client }> {
    const name = `${prefix}_${randomBytes(5).toString('hex')}`;
    await adminQuery(`create database ${name}`);
    dbs.push(name);
    const c = new pg.Client({ connectionString: urlFor(name), types: typeParsers });
    await c.connect();
    clients.push(c);
    return { name, c };
  }

  for (const side of ['ours', 'c-extension'] as const) {
    for (const mode of ['remote', 'serial'] as const) {
      it(`${mode}, queue on ${side}: our killed consumer's batch is skipped by python, the rest applied once`, async () => {
        const queueDb = await database('pe_q');
        const targetDb = await database('pe_t');
        if (side === 'ours') await install(queueDb.c);
        else await queueDb.c.query('create extension pgq');
        await targetDb.c.query('begin');
        for (const chunk of loadManifest('pgq_ext/install.sql')) await targetDb.c.query(chunk.text);
        await targetDb.c.query('commit');
        await targetDb.c.query('create table sink (ev_id bigint not null, ev_data text)');
        await queueDb.c.query("select pgq.create_queue('pe_q')");
        await queueDb.c.query("select pgq.register_consumer('pe_q', 'py_consumer')");

        const produce = async (prefix: string) => {
          const data = Array.from({ length: 5 }, (_, i) => `${prefix}${i}`);
          for (const d of data) await queueDb.c.query("select pgq.insert_event('pe_q', 'T', $1)", [d]);
          await tick(queueDb.c, 'pe_q');
          return data;
        };
        const expected = await produce('first');
        const killed = await killAfterTargetCommit(
          urlFor(queueDb.name),
          urlFor(targetDb.name),
          'pe_q',
          'py_consumer',
          mode,
        );
        expected.push(...(await produce('second')));

        const ini = path.join(dir, `${mode}-${side}.ini`);
        const log = path.join(dir, `${mode}-${side}.log`);
        writeFileSync(
          ini,
          [
            '[py_consumer]',
            'job_name = py_consumer',
            `src_db = ${libpqBase()} dbname=${queueDb.name}`,
            `dst_db = ${libpqBase()} dbname=${targetDb.name}`,
            'queue_name = pe_q',
            `logfile = ${log}`,
            `pidfile = ${dir}/${mode}-${side}.pid`,
            'loop_delay = 0.1',
            '',
          ].join('\n'),
        );
        const py = spawn(env.python, [script, mode, ini], { stdio: 'ignore' });
        procs.push(py);
        const sink = async () =>
          (await targetDb.c.query('select ev_data from sink order by ev_id')).rows.map((r) => r.ev_data);
        const openBatch = async () =>
          (await queueDb.c.query("select current_batch from pgq.get_consumer_info('pe_q', 'py_consumer')"))
            .rows[0]?.current_batch ?? null;
        let pending = true;
        for (let i = 0; i < 240 && pending; i++) {
          await new Promise((r) => setTimeout(r, 250));
          const info = await queueDb.c.query(
            "select last_tick from pgq.get_consumer_info('pe_q', 'py_consumer')",
          );
          const last = await queueDb.c.query("select last_tick_id as t from pgq.get_queue_info('pe_q')");
          pending = info.rows[0]?.last_tick !== last.rows[0]?.t || (await openBatch()) !== null;
        }
        py.kill('SIGTERM');
        const logTail = () => {
          try {
            return readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
          } catch {
            return '(no log)';
          }
        };
        expect(pending, logTail()).toBe(false);
        const got = await sink();
        expect(got, logTail()).toEqual(expected);
        if (mode === 'remote') {
          const r = await targetDb.c.query(
            "select last_batch_id from pgq_ext.completed_batch where consumer_id = 'py_consumer'",
          );
          expect(r.rows[0].last_batch_id).toBeGreaterThan(killed.batchId);
        } else {
          const t = await queueDb.c.query("select last_tick_id as t from pgq.get_queue_info('pe_q')");
          expect((await targetDb.c.query("select pgq_ext.get_last_tick('py_consumer') as t")).rows[0].t).toBe(
            t.rows[0].t,
          );
        }
      });
    }
  }
});
