// `skytools qadmin` as a process against a test database: statements as words, with -c and on
// stdin; aligned tables and --json; errors (unknown statement, queue, batch, parameter) exit
// non-zero and change nothing; install of everything or of pgq_ext alone.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDatabase, useTestDatabase } from '../support/db.ts';
import { tick } from '../support/pgq.ts';

const db = useTestDatabase();
const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function qadmin(args: string[], opts: { url?: string; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'qadmin', '--db', opts.url ?? db.url, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

async function queues(): Promise<string[]> {
  return (await db.query('select queue_name from pgq.queue order by 1')).rows.map((r) => r.queue_name);
}

describe('skytools qadmin', () => {
  it('creates a queue, registers a consumer and shows both as aligned tables', async () => {
    const created = await qadmin(['create', 'queue', 'orders']);
    expect(created).toMatchObject({ code: 0, stdout: 'queue orders created\n' });
    const reg = await qadmin(['register', 'consumer', 'mailer', 'on', 'orders']);
    expect(reg).toMatchObject({ code: 0, stdout: 'consumer mailer registered on orders\n' });
    expect((await qadmin(['create', 'queue', 'orders'])).stdout).toBe('queue orders already exists\n');

    const shown = await qadmin(['show', 'queue', 'orders']);
    expect(shown.code).toBe(0);
    const lines = shown.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ queue_name \| queue_ntables \| .* \| last_tick_id$/);
    expect(lines[1]).toMatch(/^-+(\+-+)+$/);
    expect(lines[2]).toMatch(/^ orders +\| +3 \|/);
    expect(lines.at(-1)).toBe('(1 row)');
    // aligned: every column separator sits at the same position on header and rows
    const bars = (l: string) => [...l.matchAll(/\|/g)].map((m) => m.index);
    expect(bars(lines[2]!)).toEqual(bars(lines[0]!));
    expect(bars(lines[0]!)).toEqual([...lines[1]!.matchAll(/\+/g)].map((m) => m.index));

    const cons = await qadmin(['show', 'consumer', 'mailer', 'on', 'orders', '--json']);
    expect(cons.code).toBe(0);
    const rows = JSON.parse(cons.stdout);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ queue_name: 'orders', consumer_name: 'mailer', current_batch: null });
    expect(typeof rows[0].last_tick).toBe('number');
    // one name matches a queue or a consumer; two are queue then consumer
    expect(JSON.parse((await qadmin(['show', 'consumer', 'mailer', '--json'])).stdout)).toHaveLength(1);
    expect(
      JSON.parse((await qadmin(['show', 'consumer', 'orders', 'mailer', '--json'])).stdout),
    ).toHaveLength(1);
    expect(JSON.parse((await qadmin(['show', 'consumer', 'orders', 'nobody', '--json'])).stdout)).toEqual([]);
  });

  it('runs several -c statements in one transaction, and alters queue settings', async () => {
    const r = await qadmin([
      '-c',
      "create queue q_a; create queue q_b; alter queue q_a set ticker_max_lag = '7 seconds', ticker_max_count = 42",
    ]);
    expect(r).toMatchObject({ code: 0, stdout: 'queue q_a created\nqueue q_b created\nqueue q_a altered\n' });
    const cfg = await db.one(
      "select queue_ticker_max_lag::text as lag, queue_ticker_max_count as cnt from pgq.queue where queue_name = 'q_a'",
    );
    expect(cfg).toEqual({ lag: '00:00:07', cnt: 42 });
    // words with an unquoted multi-word value, and a wildcard over queues
    const w = await qadmin(['alter', 'queue', 'q_*', 'set', 'ticker_idle_period', '=', '2', 'minutes']);
    expect(w).toMatchObject({ code: 0, stdout: 'queues q_a, q_b altered\n' });
    const idle = await db.query(
      "select queue_ticker_idle_period::text as v from pgq.queue where queue_name like 'q\\_%' order by queue_name",
    );
    expect(idle.rows).toEqual([{ v: '00:02:00' }, { v: '00:02:00' }]);
    const json = JSON.parse((await qadmin(['-c', 'show queue q_a; show queue q_b', '--json'])).stdout);
    expect(json.map((x: unknown[]) => x.length)).toEqual([1, 1]);
  });

  it('fails on unknown statements, queues, batches and parameters without changing anything', async () => {
    const before = await queues();
    const bad = await qadmin(['frobnicate', 'queue', 'x']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/syntax error: expected create or drop or show/);

    const typo = await qadmin(['-c', 'create queue never1; show qeueu']);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toMatch(/syntax error/);

    const unknown = await qadmin(['-c', 'create queue never2; drop queue no_such_queue']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown queue: no_such_queue/);

    const param = await qadmin(['-c', "create queue never3; alter queue never3 set bogus = '1'"]);
    expect(param.code).not.toBe(0);
    expect(param.stderr).toMatch(/bogus/);

    expect((await qadmin(['show', 'queue', 'no_such_queue'])).stderr).toMatch(/unknown queue: no_such_queue/);
    const batch = await qadmin(['show', 'batch', '987654']);
    expect(batch.code).not.toBe(0);
    expect(batch.stderr).toMatch(/unknown batch: 987654/);
    const unreg = await qadmin(['unregister', 'consumer', 'ghost', 'from', 'orders']);
    expect(unreg.code).not.toBe(0);
    expect(unreg.stderr).toMatch(/ghost is not registered on queue orders/);
    const mixed = await qadmin(['-c', 'install; show queue']);
    expect(mixed.stderr).toMatch(/install must be the only statement/);

    expect(await queues()).toEqual(before);
  });

  it('shows a batch by id and a consumer’s open batch; registers at a tick; unregisters', async () => {
    await qadmin(['-c', 'create queue bq; register consumer bc on bq']);
    await db.query("select pgq.insert_event('bq', 'T', 'x')");
    const t = await tick(db, 'bq');
    const batchId = (await db.one("select pgq.next_batch('bq', 'bc') as b")).b as bigint;
    const byId = JSON.parse((await qadmin(['show', 'batch', String(batchId), '--json'])).stdout);
    expect(byId).toEqual([
      expect.objectContaining({
        batch_id: Number(batchId),
        queue_name: 'bq',
        consumer_name: 'bc',
        tick_id: Number(t),
      }),
    ]);
    const open = await qadmin(['show', 'batch', 'bq', 'bc']);
    expect(open.stdout).toMatch(new RegExp(`^ +${batchId} \\| bq +\\| bc `, 'm'));

    const at = await qadmin(['register', 'consumer', 'late', 'on', 'bq', 'at', String(t)]);
    expect(at).toMatchObject({ code: 0, stdout: `consumer late registered on bq at tick ${t}\n` });
    const sub = await db.one(
      "select sub_last_tick from pgq.subscription join pgq.consumer on co_id = sub_consumer where co_name = 'late'",
    );
    expect(sub.sub_last_tick).toBe(t);

    // a default queue for statements that leave it out
    const un = await qadmin(['--queue', 'bq', 'unregister', 'consumer', 'late']);
    expect(un).toMatchObject({ code: 0, stdout: 'consumer late unregistered from bq\n' });
    const gone = await db.query("select 1 from pgq.get_consumer_info('bq', 'late')");
    expect(gone.rows).toEqual([]);
  });

  it('reads statements from stdin', async () => {
    const r = await qadmin(['--json'], { stdin: 'create queue from_stdin;\nshow consumer on from_stdin;\n' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { statement: 'create queue from_stdin', message: 'queue from_stdin created' },
      [],
    ]);
  });

  it('takes the words as the shell passed them: values with spaces before a comma, quoted and unicode names', async () => {
    await qadmin(['create', 'queue', 'shellq']);
    // what the shell hands over for: alter queue shellq set ticker_max_lag = '0.1 s', ticker_max_count = 1000
    const alter = await qadmin([
      'alter',
      'queue',
      'shellq',
      'set',
      'ticker_max_lag',
      '=',
      '0.1 s,',
      'ticker_max_count',
      '=',
      '1000',
    ]);
    expect(alter.stderr).toBe('');
    expect(alter.code).toBe(0);
    const q = await db.one(
      "select queue_ticker_max_lag::text as lag, queue_ticker_max_count as n from pgq.queue where queue_name = 'shellq'",
    );
    expect(q).toEqual({ lag: '00:00:00.1', n: 1000 });
    // create queue "my queue" from the shell, and the same inside -c
    expect(await qadmin(['create', 'queue', 'my queue'])).toMatchObject({
      code: 0,
      stdout: 'queue my queue created\n',
    });
    expect((await qadmin(['-c', 'create queue "other queue"'])).code).toBe(0);
    expect(await qadmin(['create', 'queue', 'zażółć'])).toMatchObject({
      code: 0,
      stdout: 'queue zażółć created\n',
    });
    expect(await queues()).toEqual(expect.arrayContaining(['my queue', 'other queue', 'zażółć']));
  });

  it('installs everything, or pgq_ext alone into a consumer’s target database', async () => {
    const empty = await createDatabase({ empty: true });
    const target = await createDatabase({ empty: true });
    try {
      const noPgq = await qadmin(['show', 'queue'], { url: empty.url });
      expect(noPgq.code).not.toBe(0);
      expect(noPgq.stderr).toMatch(/PgQ is not installed/);

      const all = await qadmin(['install'], { url: empty.url });
      expect(all.code).toBe(0);
      expect(all.stdout).toMatch(/^installed PgQ 3\.\d/);
      expect(
        (await empty.one("select pgq_ext.version() as v, to_regproc('pgq.version') is not null as t")).t,
      ).toBe(true);

      const ext = await qadmin(['install', 'pgq_ext'], { url: target.url });
      expect(ext).toMatchObject({ code: 0, stdout: 'installed pgq_ext 3.0.0.3\n' });
      const schemas = await target.one(
        "select to_regnamespace('pgq') is null as no_pgq, to_regnamespace('pgq_ext') is not null as ext",
      );
      expect(schemas).toEqual({ no_pgq: true, ext: true });
      expect((await qadmin(['install', 'londiste'], { url: target.url })).stderr).toMatch(/unknown module/);
    } finally {
      await empty.drop();
      await target.drop();
    }
  });
});
