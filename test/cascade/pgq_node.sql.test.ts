// pgq_node contracts: node creation per type, the node map, subscribers on a provider,
// cascaded consumer state, watermarks, switchover steps and drop_node. Each queue of the test
// database plays one node (a database holds one node per cascaded queue).
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { drain, pgError, tick } from '../support/pgq.ts';

const db = useTestDatabase();

type Ret = { ret_code: number; ret_note: string };

async function call(sql: string, params: unknown[] = []): Promise<Ret> {
  const r = await db.one<Ret>(sql, params);
  return { ret_code: r.ret_code, ret_note: r.ret_note };
}

/**
 * A pgq_node admin call (`fn(args)`, run as `select * from pgq_node.fn(args)`) and its expected
 * (ret_code, ret_note): the code, and the note unless omitted; bind parameters last.
 */
type Case = [fn: string, code: number, note?: string, params?: unknown[]];

/** Runs the calls in order (each may depend on the ones before), each checked against its case. */
async function expectCalls(cases: Case[]): Promise<void> {
  for (const [fn, code, note, params] of cases) {
    const sql = `select * from pgq_node.${fn}`;
    const got = await call(sql, params);
    if (note === undefined) expect(got.ret_code, sql).toBe(code);
    else expect(got, sql).toEqual({ ret_code: code, ret_note: note });
  }
}

async function loc(queue: string, node: string, dead = false): Promise<void> {
  await db.query('select * from pgq_node.register_location($1, $2, $3, $4)', [
    queue,
    node,
    `dbname=${node}`,
    dead,
  ]);
}

async function rootNode(queue: string, node = 'root1'): Promise<void> {
  await loc(queue, node);
  await expectCalls([
    [
      "create_node($1, 'root', $2, $3, null, null, null)",
      200,
      `Node "${node}" initialized for queue "${queue}" with type "root"`,
      [queue, node, `${node}_worker`],
    ],
  ]);
}

async function snapshot() {
  const t = async (sql: string) => (await db.query(sql)).rows;
  return {
    loc: await t('select * from pgq_node.node_location order by 1, 2'),
    info: await t('select * from pgq_node.node_info order by 1'),
    state: await t('select * from pgq_node.local_state order by 1, 2'),
    subs: await t('select * from pgq_node.subscriber_info order by 1, 2'),
    pgq: await t(
      'select sub_queue, sub_consumer, sub_last_tick, sub_batch from pgq.subscription order by 1, 2',
    ),
    queues: await t(
      'select queue_name, queue_external_ticker, queue_disable_insert from pgq.queue order by 1',
    ),
  };
}

describe('create_node', () => {
  it('root: creates the queue, a .global_watermark consumer and the worker reading from itself', async () => {
    await rootNode('cn_root');
    const info = await db.one("select * from pgq_node.get_node_info('cn_root')");
    expect(info).toMatchObject({
      ret_code: 100,
      ret_note: 'Ok',
      node_type: 'root',
      node_name: 'root1',
      provider_node: 'root1',
      provider_location: 'dbname=root1',
      worker_name: 'root1_worker',
      worker_paused: false,
      worker_uptodate: false,
      combined_queue: null,
      target_for: null,
    });
    expect(info.global_watermark).toBe(info.local_watermark);
    const cons = await db.query("select consumer_name from pgq.get_consumer_info('cn_root')");
    expect(cons.rows.map((r) => r.consumer_name)).toEqual(['.global_watermark']);
    expect(
      (await db.one("select pgq_node.is_root_node('cn_root') as r, pgq_node.is_leaf_node('cn_root') as l")).r,
    ).toBe(true);
  });

  it('root: refuses provider/watermark/combined args and a second initialization, changing nothing', async () => {
    await loc('cn_bad', 'r');
    const before = await snapshot();
    await expectCalls([
      ["create_node('cn_bad', 'root', 'r', 'w', 'p', null, null)", 401, 'unexpected args for root'],
      ["create_node('cn_bad', 'root', 'r', 'w', null, 5, null)", 401, 'unexpected args for root'],
    ]);
    expect(await snapshot()).toEqual(before);
    await rootNode('cn_bad', 'r');
    const after = await snapshot();
    await expectCalls([
      ["create_node('cn_bad', 'root', 'r', 'w', null, null, null)", 401, 'Node already initialized'],
    ]);
    expect(await snapshot()).toEqual(after);
  });

  it('branch: external ticker, inserts disabled, queue starts at the global watermark tick', async () => {
    await loc('cn_branch', 'b1');
    await loc('cn_branch', 'r1');
    await expectCalls([
      ["create_node('cn_branch', 'branch', 'b1', 'bw', null, 7, null)", 401, 'provider not set for branch'],
      [
        "create_node('cn_branch', 'branch', 'b1', 'bw', 'r1', null, null)",
        401,
        'global watermark not set for branch',
      ],
      ["create_node('cn_branch', 'branch', 'b1', 'bw', 'r1', 7, null)", 200],
    ]);
    const q = await db.one(
      "select queue_external_ticker, queue_disable_insert from pgq.queue where queue_name = 'cn_branch'",
    );
    expect(q).toEqual({ queue_external_ticker: true, queue_disable_insert: true });
    const ws = await db.one("select * from pgq_node.get_worker_state('cn_branch')");
    expect(ws).toMatchObject({
      ret_code: 100,
      node_type: 'branch',
      completed_tick: 7n,
      provider_node: 'r1',
      provider_location: 'dbname=r1',
      global_watermark: 7n,
      local_watermark: 7n,
      local_queue_top: 7n,
    });
    // a branch does not take events from producers
    expect((await pgError(db.query("select pgq.insert_event('cn_branch', 't', 'd')"))).message).toMatch(
      /disallowed/i,
    );
  });

  it('leaf and merge-leaf: no local queue; the combined queue must exist', async () => {
    await loc('cn_leaf', 'l1');
    await loc('cn_leaf', 'b1');
    await expectCalls([
      [
        "create_node('cn_leaf', 'leaf', 'l1', 'lw', 'b1', 5, 'no_such_queue')",
        401,
        'non-existing queue on leaf side: no_such_queue',
      ],
      ["create_node('cn_leaf', 'leaf', 'l1', 'lw', 'b1', 5, null)", 200],
    ]);
    expect((await db.one("select count(*)::int as n from pgq.queue where queue_name = 'cn_leaf'")).n).toBe(0);
    const info = await db.one("select * from pgq_node.get_node_info('cn_leaf')");
    expect(info).toMatchObject({
      node_type: 'leaf',
      local_watermark: 5n,
      global_watermark: null,
      worker_last_tick: 5n,
    });
    expect((await db.one("select pgq_node.is_leaf_node('cn_leaf') as l")).l).toBe(true);

    // merge-leaf feeding the local combined queue of a branch
    await loc('cn_comb', 'c1');
    await loc('cn_comb', 'r1');
    await call("select * from pgq_node.create_node('cn_comb', 'branch', 'c1', 'cw', 'r1', 1, null)");
    await loc('cn_part', 'p1');
    await loc('cn_part', 'b1');
    await expectCalls([["create_node('cn_part', 'leaf', 'p1', 'pw', 'b1', 5, 'cn_comb')", 200]]);
    expect(
      await db.one("select combined_queue, combined_type from pgq_node.get_node_info('cn_part')"),
    ).toEqual({
      combined_queue: 'cn_comb',
      combined_type: 'branch',
    });
    expect((await db.one("select target_for from pgq_node.get_node_info('cn_comb')")).target_for).toEqual([
      'cn_part',
    ]);
    await expectCalls([["set_partition_watermark('cn_comb', 'cn_part', 42)", 200, 'Ok']]);
    expect(
      (await db.one("select last_tick_id from pgq_node.local_state where consumer_name = 'pw'")).last_tick_id,
    ).toBe(42n);
    await expectCalls([
      ["set_partition_watermark('cn_leaf', 'cn_part', 1)", 201, 'Part-queue does not exist'],
    ]);
  });

  it('bad input raises the constraint errors of the original and leaves nothing behind', async () => {
    const before = await snapshot();
    expect(
      (
        await pgError(
          db.query("select * from pgq_node.create_node('cn_x', 'root', 'x1', 'w', null, null, null)"),
        )
      ).message,
    ).toMatch(/node_info_queue_name_node_name_fkey/);
    await loc('cn_x', 'x1');
    const withLoc = await snapshot();
    expect(
      (
        await pgError(
          db.query("select * from pgq_node.create_node('cn_x', 'trunk', 'x1', 'w', null, null, null)"),
        )
      ).message,
    ).toMatch(/node_info_check/);
    expect(
      (
        await pgError(
          db.query("select * from pgq_node.create_node('cn_x', 'root', 'x1', null, null, null, null)"),
        )
      ).message,
    ).toMatch(/node_info_check/);
    expect(
      (
        await pgError(
          db.query("select * from pgq_node.create_node('cn_x', 'leaf', 'x1', 'w', null, null, null)"),
        )
      ).message,
    ).toMatch(/provider_node/);
    expect(await snapshot()).toEqual(withLoc);
    expect(withLoc.loc.length).toBe(before.loc.length + 1);
  });
});

describe('node map', () => {
  it('register_location adds, updates (NULL keeps the location) and ignores NULL for unknown nodes', async () => {
    await loc('nm', 'a');
    await db.query("select * from pgq_node.register_location('nm', 'a', null, true)");
    await db.query("select * from pgq_node.register_location('nm', 'ghost', null, false)");
    expect((await db.query("select * from pgq_node.get_queue_locations('nm')")).rows).toEqual([
      { node_name: 'a', node_location: 'dbname=a', dead: true },
    ]);
  });

  it('on the root, location changes travel down the queue as events', async () => {
    await rootNode('nm_root', 'r');
    await db.query("select pgq.register_consumer('nm_root', 'reader')");
    await loc('nm_root', 'b');
    await db.query("select * from pgq_node.register_location('nm_root', 'b', null, true)");
    await db.query("select * from pgq_node.unregister_location('nm_root', 'b')");
    await tick(db, 'nm_root');
    const ev = await db.query(
      `select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3
         from pgq.get_batch_events(pgq.next_batch('nm_root', 'reader')) order by ev_id`,
    );
    expect(ev.rows).toEqual([
      {
        ev_type: 'pgq.location-info',
        ev_data: 'b',
        ev_extra1: 'nm_root',
        ev_extra2: 'dbname=b',
        ev_extra3: 'false',
      },
      {
        ev_type: 'pgq.location-info',
        ev_data: 'b',
        ev_extra1: 'nm_root',
        ev_extra2: null,
        ev_extra3: 'true',
      },
      {
        ev_type: 'pgq.unregister-location',
        ev_data: 'b',
        ev_extra1: 'nm_root',
        ev_extra2: null,
        ev_extra3: null,
      },
    ]);
  });

  it("unregister_location refuses the node's own and its provider's location", async () => {
    await loc('nm_b', 'b1');
    await loc('nm_b', 'r1');
    await loc('nm_b', 'x1');
    await call("select * from pgq_node.create_node('nm_b', 'branch', 'b1', 'bw', 'r1', 1, null)");
    await expectCalls([
      ["unregister_location('nm_b', 'b1')", 403, "Cannot drop node's own location"],
      ["unregister_location('nm_b', 'r1')", 403, "Cannot drop location of node's parent"],
      ["unregister_location('nm_b', 'x1')", 200, 'Ok'],
      ["unregister_location('nm_b', 'x1')", 301, 'Location not found: nm_b/x1'],
    ]);
  });
});

describe('subscribers on a provider', () => {
  it('register_subscriber registers the worker and a watermark consumer; events reach the worker', async () => {
    await rootNode('sub_q', 'r');
    await loc('sub_q', 'b');
    const reg = await db.one("select * from pgq_node.register_subscriber('sub_q', 'b', 'b_worker', null)");
    const gw = (await db.one("select last_tick from pgq.get_consumer_info('sub_q', '.global_watermark')"))
      .last_tick;
    expect(reg).toEqual({ ret_code: 200, ret_note: 'Subscriber registered: b', global_watermark: gw });
    expect((await db.query("select * from pgq_node.get_subscriber_info('sub_q')")).rows).toEqual([
      { node_name: 'b', worker_name: 'b_worker', node_watermark: gw },
    ]);
    await db.query("select pgq.insert_event('sub_q', 'data', 'one')");
    await tick(db, 'sub_q');
    // the root also announced b's location through the queue
    expect(await drain(db, 'sub_q', 'b_worker')).toEqual(['b', 'one']);

    // watermark moves forward only
    const t2 = await tick(db, 'sub_q');
    const setWm = "set_subscriber_watermark('sub_q', 'b', $1)";
    await expectCalls([
      [setWm, 200, `.b.watermark set to ${t2}`, [t2]],
      [setWm, 100, 'watermark already set', [t2]],
      [setWm, 405, 'watermark must not be moved backwards', [gw]],
      ["set_subscriber_watermark('sub_q', 'nobody', 1)", 404, 'node nobody not subscribed to queue '],
      ["unregister_subscriber('sub_q', 'b')", 200, 'Subscriber unregistered: b'],
      ["unregister_subscriber('sub_q', 'b')", 304, 'Subscriber not found'],
    ]);
    const cons = await db.query("select consumer_name from pgq.get_consumer_info('sub_q')");
    expect(cons.rows.map((r) => r.consumer_name)).toEqual(['.global_watermark']);
  });

  it('refuses unknown queues, leaves and duplicates', async () => {
    expect(await db.one("select * from pgq_node.register_subscriber('nothing', 'b', 'w', null)")).toEqual({
      ret_code: 404,
      ret_note: 'Unknown queue: nothing',
      global_watermark: null,
    });
    await loc('sub_leaf', 'l');
    await loc('sub_leaf', 'p');
    await call("select * from pgq_node.create_node('sub_leaf', 'leaf', 'l', 'lw', 'p', 1, null)");
    await expectCalls([["register_subscriber('sub_leaf', 'p', 'w', null)", 401]]);
    await rootNode('sub_dup', 'r');
    await loc('sub_dup', 'b');
    await db.query("select * from pgq_node.register_subscriber('sub_dup', 'b', 'bw', null)");
    expect(
      (await pgError(db.query("select * from pgq_node.register_subscriber('sub_dup', 'b', 'bw', null)")))
        .message,
    ).toMatch(/subscriber_info_pkey/);
  });
});

describe('cascaded consumer state', () => {
  it('register, pause/resume, uptodate, completed, error, change provider, unregister', async () => {
    await rootNode('cs', 'r');
    await loc('cs', 'b');
    await expectCalls([
      ["register_consumer('cs', 'cc', 'r', 1)", 200, 'Consumer cc registered on queue cs'],
      ["register_consumer('cs', 'cc', 'r', 1)", 201, 'Consumer already registered: cs/cc'],
    ]);
    expect(await db.one("select * from pgq_node.get_consumer_state('cs', 'cc')")).toEqual({
      ret_code: 100,
      ret_note: 'Ok',
      node_type: 'root',
      node_name: 'r',
      completed_tick: 1n,
      provider_node: 'r',
      provider_location: 'dbname=r',
      paused: false,
      uptodate: false,
      cur_error: null,
    });
    await expectCalls([
      ["set_consumer_paused('cs', 'cc', true)", 200, 'Consumer cc tagged as paused'],
      ["set_consumer_paused('cs', 'cc', true)", 201, 'Consumer cc already paused'],
      ["set_consumer_uptodate('cs', 'cc', true)", 200, 'Consumer uptodate = 1'],
      ["set_consumer_paused('cs', 'cc', false)", 200, 'Consumer cc tagged as resumed'],
    ]);
    // resuming clears uptodate so the consumer notices
    expect((await db.one("select uptodate from pgq_node.get_consumer_state('cs', 'cc')")).uptodate).toBe(
      false,
    );
    await expectCalls([
      ["set_consumer_error('cs', 'cc', 'boom')", 100, 'Consumer cc error = boom'],
      ["set_consumer_completed('cs', 'cc', 5)", 100, 'Consumer cc completed tick = 5'],
      ["change_consumer_provider('cs', 'cc', 'b')", 200, 'Consumer provider node set to : b'],
    ]);
    expect((await db.query("select * from pgq_node.get_consumer_info('cs')")).rows).toEqual([
      {
        consumer_name: 'cc',
        provider_node: 'b',
        last_tick_id: 5n,
        paused: false,
        uptodate: false,
        cur_error: null,
      },
      {
        consumer_name: 'r_worker',
        provider_node: 'r',
        last_tick_id: 1n,
        paused: false,
        uptodate: false,
        cur_error: null,
      },
    ]);
    await expectCalls([["unregister_consumer('cs', 'cc')", 200, 'Consumer cc unregistered from cs']]);
    expect((await db.one("select ret_code from pgq_node.get_consumer_state('cs', 'cc')")).ret_code).toBe(404);
  });

  describe('unknown queue or consumer: the original codes, nothing changes', () => {
    beforeAll(() => rootNode('cs_bad', 'r'));

    it.each<Case>([
      ["register_consumer('nothing', 'c', 'r', 1)", 404, 'Unknown queue: nothing'],
      ["unregister_consumer('nothing', 'c')", 404, 'Unknown queue: nothing'],
      ["set_consumer_paused('cs_bad', 'ghost', true)", 404, 'Unknown consumer: ghost'],
      ["set_consumer_uptodate('cs_bad', 'ghost', true)", 404, 'Consumer not known: cs_bad/ghost'],
      ["set_consumer_completed('cs_bad', 'ghost', 1)", 404, 'Consumer not known: cs_bad/ghost'],
      ["set_consumer_error('cs_bad', 'ghost', 'x')", 101, 'Consumer not known, ignoring: cs_bad/ghost'],
      ["change_consumer_provider('cs_bad', 'r_worker', 'nowhere')", 404, 'New node not found: nowhere'],
      ["change_consumer_provider('cs_bad', 'ghost', 'r')", 404, 'Unknown consumer: cs_bad/ghost'],
      ["get_consumer_state('cs_bad', 'ghost')", 404, 'Unknown consumer: cs_bad/ghost'],
      ["get_consumer_state('nothing', 'c')", 404, 'Unknown queue: nothing'],
      ["get_node_info('nothing')", 404, 'Unknown queue: nothing'],
      ["get_worker_state('nothing')", 404, 'Unknown queue: nothing'],
      ["set_node_attrs('nothing', 'a=b')", 404, 'Node not found'],
    ])('%s → %i', async (...c) => {
      const before = await snapshot();
      await expectCalls([c]);
      expect(await snapshot()).toEqual(before);
    });

    it('NULL tick and unknown queue in the boolean helpers raise', async () => {
      const before = await snapshot();
      const nulls = await pgError(
        db.query("select * from pgq_node.set_consumer_completed('cs_bad', 'r_worker', null)"),
      );
      expect(nulls.message).toMatch(/last_tick_id/);
      expect((await pgError(db.query("select pgq_node.is_root_node('nothing')"))).message).toBe(
        'queue does not exist: nothing',
      );
      expect((await pgError(db.query('select pgq_node.is_leaf_node(null)'))).code).toBe('PN001');
      expect(await snapshot()).toEqual(before);
    });
  });
});

describe('watermarks', () => {
  it('root: set_global_watermark(NULL) publishes the local watermark and moves the worker', async () => {
    await rootNode('wm', 'r');
    await loc('wm', 'b');
    await db.query("select pgq.register_consumer('wm', 'reader')");
    await db.query("select * from pgq_node.register_subscriber('wm', 'b', 'bw', null)");
    const t2 = await tick(db, 'wm');
    const t3 = await tick(db, 'wm');
    await db.query("select * from pgq_node.set_subscriber_watermark('wm', 'b', $1)", [t3]);
    await drain(db, 'wm', 'reader');
    await drain(db, 'wm', 'bw');
    // lowest consumer besides .global_watermark: the reader and bw are at t3, .b.watermark too
    expect((await db.one("select local_watermark from pgq_node.get_node_info('wm')")).local_watermark).toBe(
      t3,
    );
    await expectCalls([["set_global_watermark('wm', null)", 200, `Global watermark set to ${t3}`]]);
    const info = await db.one("select global_watermark, worker_last_tick from pgq_node.get_node_info('wm')");
    expect(info.global_watermark).toBe(t3);
    expect(
      (
        await db.one(
          "select last_tick_id from pgq_node.local_state where queue_name = 'wm' and consumer_name = 'r_worker'",
        )
      ).last_tick_id,
    ).toBe(t3);
    await tick(db, 'wm');
    const ev = await db.query(
      "select ev_type, ev_data, ev_extra1 from pgq.get_batch_events(pgq.next_batch('wm', 'reader'))",
    );
    expect(ev.rows).toEqual([{ ev_type: 'pgq.global-watermark', ev_data: String(t3), ev_extra1: 'wm' }]);
    expect(t2 < t3).toBe(true);
  });

  it('branch: needs a tick that exists locally; leaf ignores it; unknown queue 404', async () => {
    await loc('wm_b', 'b');
    await loc('wm_b', 'r');
    await call("select * from pgq_node.create_node('wm_b', 'branch', 'b', 'bw', 'r', 3, null)");
    await expectCalls([
      ["set_global_watermark('wm_b', null)", 500, 'bad usage: wm=null on branch node'],
      ["set_global_watermark('wm_b', 99)", 200, 'Skipping global watermark update to 99'],
    ]);
    await db.query("select pgq.ticker('wm_b', 4, now(), 10)");
    await expectCalls([["set_global_watermark('wm_b', 4)", 200, 'Global watermark set to 4']]);
    expect(
      (await db.one("select global_watermark from pgq_node.get_node_info('wm_b')")).global_watermark,
    ).toBe(4n);
    await loc('wm_l', 'l');
    await loc('wm_l', 'b');
    await call("select * from pgq_node.create_node('wm_l', 'leaf', 'l', 'lw', 'b', 3, null)");
    await expectCalls([
      ["set_global_watermark('wm_l', 5)", 100, 'Ignoring global watermark in leaf'],
      ["set_global_watermark('nothing', 5)", 404, 'Queuenothing not found'],
    ]);
  });

  it('maint_watermark republishes only a stale global watermark, and only on the root', async () => {
    await rootNode('wm_m', 'r');
    await db.query("select pgq.register_consumer('wm_m', 'reader')");
    const t = await tick(db, 'wm_m');
    await drain(db, 'wm_m', 'reader');
    expect((await db.one("select pgq_node.maint_watermark('wm_m') as r")).r).toBe(0);
    expect(
      (await db.one("select last_tick from pgq.get_consumer_info('wm_m', '.global_watermark')")).last_tick,
    ).not.toBe(t);
    // age the watermark's tick by 10 minutes
    await db.query(
      `update pgq.tick set tick_time = now() - interval '10 minutes'
        where tick_queue = (select queue_id from pgq.queue where queue_name = 'wm_m')`,
    );
    expect((await db.one("select pgq_node.maint_watermark('wm_m') as r")).r).toBe(0);
    expect(
      (await db.one("select last_tick from pgq.get_consumer_info('wm_m', '.global_watermark')")).last_tick,
    ).toBe(t);
    expect((await db.one("select pgq_node.maint_watermark('nothing') as r")).r).toBe(0);
  });
});

describe('switchover', () => {
  it('promote_branch makes a branch root; demote_root steps make it a branch again', async () => {
    await loc('sw', 'b');
    await loc('sw', 'r');
    await call("select * from pgq_node.create_node('sw', 'branch', 'b', 'bw', 'r', 5, null)");
    expect(await db.one("select * from pgq_node.demote_root('sw', 1, 'r')")).toEqual({
      ret_code: 301,
      ret_note: 'Node not root',
      last_tick: null,
    });
    await expectCalls([
      ["promote_branch('sw')", 200, 'Branch node promoted to root'],
      ["promote_branch('sw')", 301, 'Node not branch'],
    ]);
    expect(
      await db.one("select node_type, provider_node, worker_last_tick from pgq_node.get_node_info('sw')"),
    ).toEqual({
      node_type: 'root',
      provider_node: 'b',
      worker_last_tick: 5n,
    });
    // the promoted root takes events and its own ticks continue after the copied ones
    await db.query("select pgq.register_consumer('sw', 'reader')");
    await db.query("select pgq.insert_event('sw', 't', 'after promotion')");
    expect(await tick(db, 'sw')).toBe(6n);
    expect(await drain(db, 'sw', 'reader')).toEqual(['after promotion']);

    expect((await pgError(db.query("select * from pgq_node.demote_root('sw', 2, 'r')"))).message).toBe(
      'steps in wrong order',
    );
    expect((await db.one("select * from pgq_node.demote_root('sw', 1, 'r')")).ret_note).toBe(
      'Step 1: Writing disabled for: sw',
    );
    expect((await pgError(db.query("select pgq.insert_event('sw', 't', 'x')"))).message).toMatch(
      /disallowed/i,
    );
    const s2 = await db.one("select * from pgq_node.demote_root('sw', 2, 'r')");
    expect(s2).toEqual({ ret_code: 200, ret_note: 'Step 2: Inserted last tick: sw', last_tick: 7n });
    expect((await pgError(db.query("select * from pgq_node.demote_root('sw', 4, 'r')"))).message).toBe(
      'incorrect step number',
    );
    expect(await db.one("select * from pgq_node.demote_root('sw', 3, 'r')")).toEqual({
      ret_code: 200,
      ret_note: 'Step 3: Demoted root to branch: sw',
      last_tick: 7n,
    });
    expect(
      await db.one(
        "select node_type, provider_node, worker_last_tick, worker_uptodate from pgq_node.get_node_info('sw')",
      ),
    ).toEqual({
      node_type: 'branch',
      provider_node: 'r',
      worker_last_tick: 7n,
      worker_uptodate: false,
    });
    expect(await db.one("select * from pgq_node.demote_root('nothing', 1, 'r')")).toEqual({
      ret_code: 404,
      ret_note: 'Node not initialized for queue: nothing',
      last_tick: null,
    });
  });

  it('demote_root step 2 waits for a writer that got in before step 1', async () => {
    await rootNode('sw_w', 'r');
    await loc('sw_w', 'b');
    const writer = await db.connect();
    await writer.query('begin');
    await writer.query("select pgq.insert_event('sw_w', 't', 'late writer')");
    await db.query("select * from pgq_node.demote_root('sw_w', 1, 'b')");
    let step2Done = false;
    const step2 = db.query("select * from pgq_node.demote_root('sw_w', 2, 'b')").then((r) => {
      step2Done = true;
      return r.rows[0];
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(step2Done).toBe(false);
    await writer.query('commit');
    const r = await step2;
    expect(r.ret_code).toBe(200);
    // the last tick includes the late writer's event
    await db.query(
      "select pgq.register_consumer_at('sw_w', 'reader', (select min(tick_id) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where q.queue_name = 'sw_w'))",
    );
    expect(await drain(db, 'sw_w', 'reader')).toEqual(['b', 'late writer']);
  });
});

describe('drop_node', () => {
  it('refuses the provider, unsubscribes other nodes, and removes the local node with its queue', async () => {
    await rootNode('dn', 'r');
    await loc('dn', 'b');
    await loc('dn', 'c');
    await db.query("select * from pgq_node.register_subscriber('dn', 'b', 'bw', null)");
    await expectCalls([["drop_node('dn', 'b')", 200, 'Node dropped: b']]);
    expect((await db.query("select * from pgq_node.get_subscriber_info('dn')")).rows).toEqual([]);
    expect(
      (await db.query("select node_name from pgq_node.get_queue_locations('dn') order by 1")).rows,
    ).toEqual([{ node_name: 'c' }, { node_name: 'r' }]);

    await loc('dn_leaf', 'l');
    await loc('dn_leaf', 'p');
    await call("select * from pgq_node.create_node('dn_leaf', 'leaf', 'l', 'lw', 'p', 1, null)");
    await expectCalls([
      ["drop_node('dn_leaf', 'p')", 405, 'Cannot drop provider node: p'],
      ["drop_node('dn', 'r')", 200, 'Node dropped: r'],
    ]);
    const s = await snapshot();
    expect(s.info.filter((r) => r.queue_name === 'dn')).toEqual([]);
    expect(s.loc.filter((r) => r.queue_name === 'dn')).toEqual([]);
    expect(s.queues.filter((r) => r.queue_name === 'dn')).toEqual([]);
    await expectCalls([["drop_node('never', 'x')", 200, 'Node dropped: x']]);
  });
});

describe('schema', () => {
  it('upgrade_schema is a no-op on a current schema; version is 3.5', async () => {
    expect(await db.one('select pgq_node.upgrade_schema() as n, pgq_node.version() as v')).toEqual({
      n: 0,
      v: '3.5',
    });
  });
});
