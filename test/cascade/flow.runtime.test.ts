// root → branch → leaf on our SQL and on the C extension: events produced on the root reach the leaf's cascaded consumer
// in order, exactly once; a batch re-delivered after a crash between the local commit and the
// provider's finish_batch (or the branch tick) is recognised by its tick id and not applied again.
import { describe, expect, it } from 'vitest';
import { targetNames } from '../support/targets.ts';
import { Producer, queueEvents, range, seen, useCluster, waitUntil } from './cluster.ts';

for (const target of targetNames) {
  const s = useCluster(['r1', 'b1', 'l1'], { target, record: 'l1', build: true });

  describe(`cascade root → branch → leaf (${target})`, () => {
    it('creates the nodes with the right roles and members', async () => {
      const { c } = s;
      expect((await c.info('r1')).nodeType).toBe('root');
      const b = await c.info('b1');
      expect([b.nodeType, b.providerNode, b.workerName]).toEqual(['branch', 'r1', 'w_b1']);
      const l = await c.info('l1');
      expect([l.nodeType, l.providerNode]).toEqual(['leaf', 'b1']);
      const members = await c.withAdmin('l1', (a) => a.members());
      expect(members.map((m) => [m.name, m.dead])).toEqual([
        ['b1', false],
        ['l1', false],
        ['r1', false],
      ]);
      // creating again is a no-op with a note, not an error
      const again = await c.withAdmin('b1', (a) =>
        a.createNode('branch', {
          nodeName: 'b1',
          location: c.nodes.b1!.url,
          worker: 'w_b1',
          provider: c.nodes.r1!.url,
        }),
      );
      expect(again).toMatch(/already initialized as branch/);
    });

    it('delivers every event produced on the root to the leaf, in order, once', async () => {
      const { c } = s;
      c.startAll();
      const p = new Producer(c, 'r1', 0);
      for (let i = 0; i < 10; i++) await p.many(30); // 300 events in many transactions and batches
      await waitUntil('leaf has all events', async () => (await seen(c.nodes.l1!)).length >= p.last);
      expect(await seen(c.nodes.l1!)).toEqual(range(1, p.last));
      // the branch holds the same events with the root's event ids
      const ids = async (n: string) => (await queueEvents(c.nodes[n]!, c.queue)).map((e) => e.ev_id);
      expect(await ids('b1')).toEqual(await ids('r1'));
      // ticks line up: every tick the branch has exists on the root with the same event position
      const ticks = async (n: string) =>
        (
          await c.nodes[n]!.query(
            `select tick_id, tick_event_seq from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
                                 where q.queue_name = $1 and tick_id > 1 order by tick_id`,
            [c.queue],
          )
        ).rows;
      const rootTicks = new Map((await ticks('r1')).map((t) => [t.tick_id, t.tick_event_seq]));
      const branchTicks = await ticks('b1');
      expect(branchTicks.length).toBeGreaterThan(3);
      for (const t of branchTicks) expect(rootTicks.get(t.tick_id)).toBe(t.tick_event_seq);
    });

    it('status shows the tree with ticks and lag; watermarks move upstream', async () => {
      const { c } = s;
      const st = await c.withAdmin('b1', (a) => a.status());
      expect(st.localNode).toBe('b1');
      expect(st.roots.map((r) => r.name)).toEqual(['r1']);
      const root = st.roots[0]!;
      expect(root.children.map((x) => x.name)).toEqual(['b1']);
      expect(root.children[0]!.children.map((x) => [x.name, x.type])).toEqual([['l1', 'leaf']]);
      expect(root.children[0]!.lagSeconds).not.toBeNull();
      // the leaf reported its position to the branch, the branch to the root
      await waitUntil('watermarks published', async () => {
        const r = await c.nodes.r1!.query(
          "select last_tick from pgq.get_consumer_info($1, '.b1.watermark')",
          [c.queue],
        );
        return (r.rows[0]?.last_tick ?? 0n) > 1n;
      });
      const lw = await c.nodes.b1!.query("select last_tick from pgq.get_consumer_info($1, '.l1.watermark')", [
        c.queue,
      ]);
      expect(lw.rows[0]?.last_tick).toBeGreaterThan(1n);
    });

    it('pause stops the leaf (acknowledged by the worker), resume catches up', async () => {
      const { c } = s;
      await c.withAdmin('l1', (a) => a.pause());
      expect((await c.info('l1')).paused).toBe(true);
      const before = (await seen(c.nodes.l1!)).length;
      const p = new Producer(c, 'r1', 0);
      p.next = before + 1;
      await p.many(20);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await seen(c.nodes.l1!)).length).toBe(before);
      await c.withAdmin('l1', (a) => a.resume());
      await waitUntil('leaf caught up after resume', async () => (await seen(c.nodes.l1!)).length >= p.last);
      expect(await seen(c.nodes.l1!)).toEqual(range(1, p.last));
    });

    it('the branch also copies when it may not set session_replication_role (insertMode toggle)', async () => {
      const { c } = s;
      await c.stopWorker('b1');
      c.workerPatch.b1 = { insertMode: 'toggle' };
      c.startWorker('b1');
      const before = (await seen(c.nodes.l1!)).length;
      const p = new Producer(c, 'r1', 0);
      p.next = before + 1;
      await p.many(25);
      await waitUntil(
        'leaf has the events copied in toggle mode',
        async () => (await seen(c.nodes.l1!)).length >= p.last,
      );
      expect(await seen(c.nodes.l1!)).toEqual(range(1, p.last));
      // inserts stay disabled on the branch for everyone else
      const q = await c.nodes.b1!.query('select queue_disable_insert from pgq.queue where queue_name = $1', [
        c.queue,
      ]);
      expect(q.rows[0]?.queue_disable_insert).toBe(true);
      await c.stopWorker('b1');
      c.workerPatch.b1 = {};
      c.startWorker('b1');
    });

    it('a batch re-delivered after a crash before finish_batch / the branch tick is not applied twice', async () => {
      const { c } = s;
      await c.stopWorker('b1');
      await c.stopWorker('l1');
      const before = (await seen(c.nodes.l1!)).length;
      // Crash 1: the leaf commits locally, then "dies" before finish_batch on the provider.
      let failFinish = 1;
      c.workerPatch.l1 = {
        connectRemote: async (loc) => {
          const client = await (await import('../../layers/cascade/node.ts')).connectLocation(loc);
          const orig = client.query.bind(client) as (...a: unknown[]) => unknown;
          (client as unknown as { query: unknown }).query = (...a: unknown[]) => {
            if (typeof a[0] === 'string' && a[0].includes('finish_batch') && failFinish-- > 0) {
              return Promise.reject(new Error('simulated crash before finish_batch'));
            }
            return orig(...a);
          };
          return client;
        },
      };
      // Crash 2: the branch commits the copied events, then dies before writing the tick.
      let failTick = 1;
      c.workerPatch.b1 = {
        connectLocal: async () => {
          const client = await (await import('./cluster.ts')).connectUrl(c.nodes.b1!.url)();
          const orig = client.query.bind(client) as (...a: unknown[]) => unknown;
          (client as unknown as { query: unknown }).query = (...a: unknown[]) => {
            if (typeof a[0] === 'string' && a[0].startsWith('select pgq.ticker(') && failTick-- > 0) {
              return Promise.reject(new Error('simulated crash before the branch tick'));
            }
            return orig(...a);
          };
          return client;
        },
      };
      const p = new Producer(c, 'r1', 0);
      p.next = before + 1;
      await p.many(50);
      c.startWorker('b1');
      c.startWorker('l1');
      await waitUntil(
        'leaf has all events after the crashes',
        async () => (await seen(c.nodes.l1!)).length >= p.last,
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect(failFinish).toBeLessThan(0);
      expect(failTick).toBeLessThan(0);
      expect(await seen(c.nodes.l1!)).toEqual(range(1, p.last));
      expect(c.worker('l1')!.stats.skipped).toBeGreaterThanOrEqual(1);
      expect(c.worker('b1')!.stats.skipped).toBeGreaterThanOrEqual(1);
      // the error was recorded on the node and cleared by the next good batch
      expect(
        (await c.nodes.l1!.query('select cur_error from pgq_node.local_state')).rows.every(
          (r) => r.cur_error == null,
        ),
      ).toBe(true);
    });
  });
}
