// Remote and serial consumers: events from a queue database applied into a second (target)
// database exactly once, even when the consumer process is killed between the target commit and
// finish_batch on the queue, or its handler throws half way. The queue side runs on our SQL and
// on the original C extension; the target always has our pgq_ext.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  insertEvents,
  PgqError,
  processRemoteBatch,
  processSerialBatch,
  type RemoteBatchOptions,
  registerConsumer,
  registerSerialConsumer,
  runRemoteConsumer,
  serialRewind,
  unregisterSerialConsumer,
} from '../../layers/pgq/index.ts';
import { killAfterTargetCommit } from '../support/crash.ts';
import { createDatabase, type TestDb } from '../support/db.ts';
import { tick } from '../support/pgq.ts';
import { targetNames, useTarget } from '../support/targets.ts';

type Mode = 'remote' | 'serial';
const processors = { remote: processRemoteBatch, serial: processSerialBatch };

describe.each(targetNames)('remote and serial consumers, queue on %s', (name) => {
  const q = useTarget(name);
  let target: TestDb & { drop(): Promise<void> };
  let qc: pg.Client;
  let tc: pg.Client;

  beforeAll(async () => {
    target = await createDatabase();
    await target.query('create table sink (ev_id bigint not null, ev_data text)');
    qc = await q.connect();
    tc = await target.connect();
  });
  afterAll(async () => {
    await target?.drop();
  });

  async function setup(queue: string, consumer: string, mode: Mode) {
    await q.pool.query('select pgq.create_queue($1)', [queue]);
    if (mode === 'serial') await registerSerialConsumer(qc, tc, queue, consumer);
    else await registerConsumer(qc, queue, consumer);
  }

  async function produce(queue: string, prefix: string, n: number): Promise<string[]> {
    const data = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    await insertEvents(
      q.pool,
      queue,
      data.map((d) => ({ type: 'T', data: d })),
    );
    await tick(q.pool, queue);
    return data;
  }

  function opts(
    queue: string,
    consumer: string,
    extra: Partial<RemoteBatchOptions> = {},
  ): RemoteBatchOptions {
    return {
      queue,
      consumer,
      target: tc,
      handler: async (batch, tx) => {
        for (const ev of batch.events) {
          await tx.query('insert into sink (ev_id, ev_data) values ($1, $2)', [ev.id, ev.data]);
          ev.tagDone();
        }
      },
      ...extra,
    };
  }

  async function drainInProcess(mode: Mode, queue: string, consumer: string) {
    const results = [];
    for (;;) {
      const r = await processors[mode](qc, opts(queue, consumer));
      if (!r) return results;
      results.push(r);
    }
  }

  async function sinkData(prefix: string): Promise<string[]> {
    const r = await target.query<{ ev_data: string }>(
      'select ev_data from sink where ev_data like $1 order by ev_id',
      [`${prefix}%`],
    );
    return r.rows.map((x) => x.ev_data);
  }

  async function openBatch(queue: string, consumer: string): Promise<bigint | null> {
    const r = await q.pool.query(
      'select sub_batch from pgq.subscription s join pgq.queue on queue_id = sub_queue ' +
        'join pgq.consumer on co_id = sub_consumer where queue_name = $1 and co_name = $2',
      [queue, consumer],
    );
    return r.rows[0]?.sub_batch ?? null;
  }

  for (const mode of ['remote', 'serial'] as const) {
    it(`${mode}: applies each event once and records the batch in the target`, async () => {
      const queue = `${mode}_basic`;
      await setup(queue, 'c', mode);
      const data = await produce(queue, `${mode}B`, 4);
      const [first, ...rest] = await drainInProcess(mode, queue, 'c');
      expect(rest).toEqual([]);
      expect(first).toMatchObject({ events: 4, skipped: false, retried: 0 });
      expect(await sinkData(`${mode}B`)).toEqual(data);
      if (mode === 'remote') {
        expect((await target.one("select pgq_ext.is_batch_done('c', $1) as d", [first!.batchId])).d).toBe(
          true,
        );
      } else {
        expect((await target.one("select pgq_ext.get_last_tick('c') as t")).t).toBe(first!.tickId);
      }
      expect(await openBatch(queue, 'c')).toBeNull();
    });

    it(`${mode}: a consumer killed between the target commit and finish_batch applies every event exactly once`, async () => {
      const queue = `${mode}_crash`;
      const prefix = `${mode}K`;
      await setup(queue, 'c', mode);
      const expected: string[] = [];
      let prev: bigint | null = null;
      for (let round = 0; round < 3; round++) {
        expected.push(...(await produce(queue, `${prefix}${round}_`, 5)));
        // From the second round on, the child first gets the batch the previous child was
        // killed in, finishes it as already applied, then applies (and dies in) the next one.
        const { batchId, skipped } = await killAfterTargetCommit(q.url, target.url, queue, 'c', mode);
        expect(skipped).toEqual(prev == null ? [] : [prev]);
        // The target committed; the queue never heard of it: the batch is still open there.
        expect(await openBatch(queue, 'c')).toBe(batchId);
        expect(await sinkData(prefix)).toEqual(expected);
        prev = batchId;
      }
      // The next run gets the killed run's batch again and finishes it without applying it.
      const results = await drainInProcess(mode, queue, 'c');
      expect(results.map((r) => r.skipped)).toEqual([true]);
      expect(await openBatch(queue, 'c')).toBeNull();
      expected.push(...(await produce(queue, `${prefix}after_`, 3)));
      const more = await drainInProcess(mode, queue, 'c');
      expect(more.map((r) => [r.skipped, r.events])).toEqual([[false, 3]]);
      const got = await sinkData(prefix);
      expect(got).toEqual(expected);
      expect(new Set(got).size).toBe(got.length);
    });

    it(`${mode}: a handler that throws half way leaves neither database changed, then applies once`, async () => {
      const queue = `${mode}_throw`;
      const prefix = `${mode}T`;
      await setup(queue, 'c', mode);
      const data = await produce(queue, prefix, 6);
      let calls = 0;
      const failing = processors[mode](
        qc,
        opts(queue, 'c', {
          handler: async (batch, tx) => {
            calls++;
            for (const [i, ev] of batch.events.entries()) {
              if (i === 3) throw new Error('target write failed');
              await tx.query('insert into sink (ev_id, ev_data) values ($1, $2)', [ev.id, ev.data]);
              ev.tagDone();
            }
          },
        }),
      );
      await expect(failing).rejects.toThrow('target write failed');
      expect(calls).toBe(1);
      expect(await sinkData(prefix)).toEqual([]);
      const open = await openBatch(queue, 'c');
      expect(open).not.toBeNull();
      // the target connection is usable again (its transaction was rolled back)
      expect((await tc.query('select 1 as one')).rows[0].one).toBe(1);
      const results = await drainInProcess(mode, queue, 'c');
      expect(results.map((r) => [r.batchId, r.events, r.skipped])).toEqual([[open, 6, false]]);
      expect(await sinkData(prefix)).toEqual(data);
    });
  }

  for (const mode of ['remote', 'serial'] as const) {
    it(`${mode}: the long-running loop registers, applies each event once across a failure, and stops`, async () => {
      const queue = `${mode}_loop`;
      const prefix = `${mode}L`;
      await q.pool.query('select pgq.create_queue($1)', [queue]);
      const stop = new AbortController();
      let failures = 0;
      const loop = runRemoteConsumer({
        pool: q.pool,
        targetPool: target.pool,
        mode,
        queue,
        consumer: 'loop',
        register: true,
        loopDelayMs: 50,
        maxBackoffMs: 200,
        signal: stop.signal,
        handler: async (batch, tx) => {
          for (const ev of batch.events) {
            await tx.query('insert into sink (ev_id, ev_data) values ($1, $2)', [ev.id, ev.data]);
            ev.tagDone();
          }
          if (batch.events.some((e) => e.data === `${prefix}0_1`) && failures === 0) {
            failures++;
            throw new Error('transient failure');
          }
        },
      });
      const expected: string[] = [];
      try {
        // wait for the registration before producing
        for (let i = 0; i < 200; i++) {
          const r = await q.pool.query('select 1 from pgq.get_consumer_info($1, $2)', [queue, 'loop']);
          if (r.rows.length > 0) break;
          await new Promise((res) => setTimeout(res, 50));
        }
        for (let round = 0; round < 2; round++) {
          expected.push(...(await produce(queue, `${prefix}${round}_`, 3)));
        }
        for (let i = 0; i < 600 && (await sinkData(prefix)).length < expected.length; i++) {
          await new Promise((res) => setTimeout(res, 50));
        }
      } finally {
        stop.abort();
      }
      const stats = await loop;
      expect(failures).toBe(1);
      expect(stats.errors).toBe(1);
      expect(stats.events).toBe(6);
      expect(await sinkData(prefix)).toEqual(expected);
    });
  }

  it('remote: events tagged for retry come back and are applied once', async () => {
    const queue = 'remote_retry';
    await setup(queue, 'c', 'remote');
    await produce(queue, 'RR', 2);
    const first = await processRemoteBatch(
      qc,
      opts(queue, 'c', {
        handler: async (batch, tx) => {
          for (const ev of batch.events) {
            if (ev.data === 'RR1') {
              ev.tagRetry(0);
              continue;
            }
            await tx.query('insert into sink (ev_id, ev_data) values ($1, $2)', [ev.id, ev.data]);
            ev.tagDone();
          }
        },
      }),
    );
    expect(first?.retried).toBe(1);
    expect(await sinkData('RR')).toEqual(['RR0']);
    await q.pool.query('select pgq.maint_retry_events()');
    await tick(q.pool, queue);
    await drainInProcess('remote', queue, 'c');
    expect((await sinkData('RR')).sort()).toEqual(['RR0', 'RR1']);
  });

  it('remote: subconsumers track their batches apart', async () => {
    const queue = 'remote_sub';
    await setup(queue, 'c', 'remote');
    await produce(queue, 'RS', 1);
    const r = await processRemoteBatch(qc, opts(queue, 'c', { subconsumer: 'part1' }));
    expect(r?.skipped).toBe(false);
    expect((await target.one("select pgq_ext.is_batch_done('c', 'part1', $1) as d", [r!.batchId])).d).toBe(
      true,
    );
    expect((await target.one("select pgq_ext.is_batch_done('c', $1) as d", [r!.batchId])).d).toBe(false);
  });

  it('serial: refuses retries and rolls the batch back', async () => {
    const queue = 'serial_noretry';
    await setup(queue, 'c', 'serial');
    await produce(queue, 'SN', 1);
    const r = processSerialBatch(
      qc,
      opts(queue, 'c', {
        handler: async (batch) => {
          for (const ev of batch.events) ev.tagRetry(10);
        },
      }),
    );
    await expect(r).rejects.toBeInstanceOf(PgqError);
    await expect(r).rejects.toThrow(/cannot retry/);
    expect((await target.one("select pgq_ext.get_last_tick('c') as t")).t).toBeNull();
    const ok = await drainInProcess('serial', queue, 'c');
    expect(ok.map((x) => x.events)).toEqual([1]);
  });

  it('serial: detects a lost position, and rewind moves the queue back to the target', async () => {
    const queue = 'serial_lost';
    await setup(queue, 'c2', 'serial');
    await produce(queue, 'SL', 1);
    const a = await processSerialBatch(qc, opts(queue, 'c2'));
    expect(a?.events).toBe(1);
    // The target is restored from a backup taken before batch a was applied.
    await target.query("delete from sink where ev_data like 'SL%'");
    await target.query("select pgq_ext.set_last_tick('c2', $1)", [a!.prevTickId]);
    await produce(queue, 'SL2_', 1);
    const lost = processSerialBatch(qc, opts(queue, 'c2'));
    await expect(lost).rejects.toBeInstanceOf(PgqError);
    await expect(lost).rejects.toThrow(/lost position/);
    expect(await sinkData('SL')).toEqual([]);
    // Rewinding puts the queue position at the target's tick: batch a's events come again.
    expect(await serialRewind(qc, tc, queue, 'c2')).toBe(a!.prevTickId);
    await drainInProcess('serial', queue, 'c2');
    expect(await sinkData('SL')).toEqual(['SL0', 'SL2_0']);
    // Unregistering forgets the position in the target.
    expect(await unregisterSerialConsumer(qc, tc, queue, 'c2')).toBe(true);
    expect((await target.one("select pgq_ext.get_last_tick('c2') as t")).t).toBeNull();
  });
});
