// The Londiste setup commands through `skytools londiste <ini> <command>` (the real command
// registration, run in this process) on a root, a branch and a leaf in three databases: nodes,
// tables and sequences added and removed with the flags that make sense without a replay worker,
// the tables/seqs/missing output, --create from the provider, status with table states and the
// progress of a copy, wait-sync waiting for replay, and errors that change nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../cli/commands/londiste.ts';
import { typeParsers } from '../../layers/db/connection.ts';
import { reportError } from '../../layers/errors/exit.ts';
import type { LondisteError } from '../../layers/londiste/errors.ts';
import { useCluster, waitUntil } from '../cascade/cluster.ts';

const f = useCluster(['R', 'B', 'L']);
const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-admin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ini(node: string, extra: string[] = []): string {
  const file = path.join(dir, `${node}.ini`);
  writeFileSync(
    file,
    [
      '[londiste]',
      `job_name = w_${node}`,
      'queue_name = cq',
      `db = ${f.c.loc(node)}`,
      `node_name = ${node}`,
      ...extra,
      '',
    ].join('\n'),
  );
  return file;
}

interface Run {
  code: number;
  out: string;
  err: string;
  kind?: string;
}

/** `skytools londiste <node.ini> …` in this process; a thrown error goes to the CLI's printer. */
async function run(node: string, ...args: string[]): Promise<Run> {
  const program = new Command('skytools').exitOverride();
  register(program);
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    process.exitCode = undefined;
    await program.parseAsync(['node', 'skytools', 'londiste', ini(node), ...args, '-q']);
    return { code: 0, out, err };
  } catch (error) {
    const code = reportError(
      error,
      { command: 'londiste', operands: [ini(node), args[0] ?? ''] },
      { write: (s) => (err += s), env: {} },
    );
    return { code, out, err, kind: (error as LondisteError).kind };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

const ok = async (node: string, ...args: string[]) => {
  const r = await run(node, ...args);
  expect(r.code, `${node}: ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
};

const q = (node: string, sql: string, params: unknown[] = []) => f.c.nodes[node]!.query(sql, params);
const tableInfo = async (node: string) =>
  (
    await q(
      node,
      'select table_name, local, merge_state, table_attrs, dest_table from londiste.table_info where queue_name = $1 order by table_name',
      ['cq'],
    )
  ).rows;

let rootSeqValue = 0;

beforeAll(async () => {
  await q(
    'R',
    `create table public.t1 (id int primary key, v text not null default 'x');
     create table public.t2 (id bigserial primary key, v text, n int check (n > 0), unique (v));
     create index t2_n_idx on public.t2 (n);
     create table public.t3 (id int primary key);
     create table public.nopk (v text);
     create schema s1;
     create table s1."Big" (k int primary key, v text);
     create sequence public.seq1 start 100;
     insert into public.t1 select g, 'v' || g from generate_series(1, 50) g;`,
  );
});

describe('skytools londiste setup', () => {
  it('creates root, branch and leaf; the new nodes learn the provider set (extraInit)', async () => {
    expect(await ok('R', 'create-root')).toBe('node R created as root for queue cq\n');
    await f.c.tune('R');
    expect(await ok('R', 'add-table', 't1', 'public.t2')).toBe(
      'Table added: public.t1\nTable added: public.t2\n',
    );
    expect(await ok('R', 'add-seq', 'seq1')).toBe('Sequence added: public.seq1\n');
    expect(await ok('B', 'create-branch', `--provider=${f.c.loc('R')}`)).toBe(
      'node B created as branch for queue cq\n',
    );
    await f.c.tune('B');
    expect(await ok('L', 'create-leaf', `--provider=${f.c.loc('B')}`, '-d')).toBe(
      'node L created as leaf for queue cq\n',
    );
    // B and L know the set's tables and sequences, none of them local yet.
    expect(await tableInfo('B')).toEqual([
      { table_name: 'public.t1', local: false, merge_state: null, table_attrs: null, dest_table: null },
      { table_name: 'public.t2', local: false, merge_state: null, table_attrs: null, dest_table: null },
    ]);
    expect((await q('L', 'select seq_name, local from londiste.seq_info')).rows).toEqual([
      { seq_name: 'public.seq1', local: false },
    ]);
  });

  it('lists tables, sequences and missing objects as the original prints them, and as JSON', async () => {
    expect(await ok('R', 'tables')).toBe(
      [
        'Tables on node',
        'table_name       merge_state      table_attrs',
        '---------------  ---------------  ---------------',
        'public.t1        ok               ',
        'public.t2        ok               ',
        '',
        '',
      ].join('\n'),
    );
    expect(await ok('R', 'tables', '--names-only')).toBe('public.t1\npublic.t2\n');
    expect(await ok('B', 'tables')).toBe('');
    // The root publishes the sequence's value when it is added (root_check_seqs).
    const [seq] = JSON.parse(await ok('R', 'seqs', '--json'));
    expect(seq).toEqual({ seq_name: 'public.seq1', local: true, last_value: expect.any(Number) });
    rootSeqValue = seq.last_value;
    // On the root, sequences count as missing until they are tables (3.8 looks in table_info only).
    expect(JSON.parse(await ok('R', 'missing', '--json'))).toEqual([
      { obj_kind: 'S', obj_name: 'public.seq1' },
      { obj_kind: 'S', obj_name: 'public.t2_id_seq' },
      { obj_kind: 'r', obj_name: 'public.nopk' },
      { obj_kind: 'r', obj_name: 'public.t3' },
      { obj_kind: 'r', obj_name: 's1.Big' },
    ]);
    expect(await ok('B', 'missing')).toBe(
      [
        'Missing objects on node',
        'obj_kind         obj_name',
        '---------------  ---------------',
        'S                public.seq1',
        'r                public.t1',
        'r                public.t2',
        '',
        '',
      ].join('\n'),
    );
  });

  it('refuses bad names, globs, handler arguments and tables without a key, changing nothing', async () => {
    const before = await tableInfo('R');
    const events = async () =>
      (await q('R', "select count(*)::int as n from pgq.event_template where ev_type like 'londiste.%'"))
        .rows[0]!.n;
    const evBefore = await events();
    const cases: [string[], string, string][] = [
      [['add-table', 't3', 'nosuch'], 'not_found', 'table not available: public.nosuch'],
      [['add-table', 'zz*'], 'not_found', 'table not available: zz*'],
      [['add-table'], 'usage', 'no table given'],
      [['add-table', 't3', '--handler=bad('], 'usage', 'invalid handler name: bad('],
      [['add-table', 't3', '--handler=nope'], 'not_found', 'unknown handler "nope"'],
      [
        ['add-table', 't3', '--handler=londiste', '--handler-arg=method=1'],
        'usage',
        'invalid handler argument: method',
      ],
      [
        ['add-table', 't3', '--handler=londiste', '--handler-arg=encoding=a', '--handler-arg=encoding=b'],
        'usage',
        'multiple handler arguments: encoding',
      ],
      [['add-table', 't3', '--handler-arg=a=1'], 'usage', '--handler-arg needs --handler'],
      [['add-table', 't3', '--trigger-flags=XYZ'], 'usage', 'invalid --trigger-flags "XYZ"'],
      [
        ['add-table', 't3', '--max-parallel-copy=two'],
        'usage',
        '--max-parallel-copy must be a positive integer',
      ],
      [['add-table', 't3', 'nopk'], 'refused', 'Primary key missing on table: public.nopk'],
      [
        ['add-table', 't3', 's1.*', '--dest-table=x'],
        'usage',
        '--dest-table can be given for one table only',
      ],
      [['remove-table', 'public.t3'], 'not_found', 'table not available: public.t3'],
    ];
    for (const [args, kind, msg] of cases) {
      const r = await run('R', ...args);
      expect(r, args.join(' ')).toMatchObject({ code: 1, kind });
      expect(r.err, args.join(' ')).toContain(msg);
      expect(r.err, args.join(' ')).toMatch(
        /^skytools londiste add-table: |^skytools londiste remove-table: /,
      );
    }
    // t3 came before nopk in one command: not added either (one transaction).
    expect(await tableInfo('R')).toEqual(before);
    expect(await events()).toBe(evBefore);
    const trg = await q(
      'R',
      "select count(*)::int as n from pg_trigger where tgrelid = 'public.t3'::regclass",
    );
    expect(trg.rows[0]!.n).toBe(0);
  });

  it('adds globs on the root with trigger flags and handler attributes; already added is reported', async () => {
    expect(await ok('R', 'add-table', 't*', '--trigger-flags=AIU')).toBe(
      'Table already added: public.t1\nTable already added: public.t2\nTable added: public.t3\n',
    );
    // tgflags=AIU: an after insert/update trigger, no delete.
    const t = await q(
      'R',
      `select tgname, (tgtype & 8) <> 0 as on_delete, (tgtype & 4) <> 0 as on_insert
         from pg_trigger where tgrelid = 'public.t3'::regclass and not tgisinternal order by tgname`,
    );
    expect(t.rows).toEqual([
      { tgname: '_londiste_cq', on_delete: false, on_insert: true },
      { tgname: '_londiste_cq_truncate', on_delete: false, on_insert: false },
    ]);
    expect(
      await ok(
        'R',
        'add-table',
        's1.*',
        '--handler=londiste',
        '--handler-arg=ignore_truncate=1',
        '--max-parallel-copy=3',
      ),
    ).toBe('Table added: s1.Big\n');
    const big = (await tableInfo('R')).find((x) => x.table_name === 's1.Big');
    expect(big?.table_attrs).toBe('handler=londiste%28ignore_truncate%3D1%29&max_parallel_copy=3');
  });

  it('on a branch: a table missing here is an error naming --create; --create makes it from the provider', async () => {
    const r = await run('B', 'add-table', 't1');
    expect(r).toMatchObject({ code: 1, kind: 'not_found' });
    expect(r.err).toContain('table public.t1 does not exist on this node: create it, or use --create');
    expect(await ok('B', 'add-table', 't1', '--create', '--skip-truncate', `--copy-node=R`)).toBe(
      'Table added: public.t1\n',
    );
    const cols = await q(
      'B',
      `select a.attname, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull, a.atthasdef
         from pg_attribute a where a.attrelid = 'public.t1'::regclass and a.attnum > 0 order by a.attnum`,
    );
    expect(cols.rows).toEqual([
      { attname: 'id', type: 'integer', attnotnull: true, atthasdef: false },
      { attname: 'v', type: 'text', attnotnull: true, atthasdef: false },
    ]);
    const pk = await q('B', "select contype from pg_constraint where conrelid = 'public.t1'::regclass");
    expect(pk.rows).toEqual([{ contype: 'p' }]);
    // The table waits for its copy: local, state NULL, the copy attributes stored.
    expect((await tableInfo('B')).find((x) => x.table_name === 'public.t1')).toEqual({
      table_name: 'public.t1',
      local: true,
      merge_state: null,
      table_attrs: 'copy_node=R&skip_truncate=1',
      dest_table: null,
    });
    // The set grew on the root meanwhile: the branch's list is synced before names are checked.
    expect(await ok('B', 'add-table', 't2', 't3', '--create-full')).toBe(
      'Table added: public.t2\nTable added: public.t3\n',
    );
    const idx = await q('B', "select indexdef from pg_indexes where tablename = 't2' order by indexname");
    expect(idx.rows.map((x) => x.indexdef)).toEqual([
      'CREATE INDEX t2_n_idx ON public.t2 USING btree (n)',
      'CREATE UNIQUE INDEX t2_pkey ON public.t2 USING btree (id)',
      'CREATE UNIQUE INDEX t2_v_key ON public.t2 USING btree (v)',
    ]);
    const def = await q(
      'B',
      "select pg_get_expr(adbin, adrelid) as d from pg_attrdef where adrelid = 'public.t2'::regclass",
    );
    expect(def.rows).toEqual([{ d: "nextval('t2_id_seq'::regclass)" }]);
    const chk = await q(
      'B',
      "select pg_get_constraintdef(oid) as d from pg_constraint where conrelid = 'public.t2'::regclass and contype = 'c'",
    );
    expect(chk.rows).toEqual([{ d: 'CHECK ((n > 0))' }]);
  });

  it('on a leaf: --expect-sync, --dest-table, --no-triggers; the provider must replicate the table', async () => {
    const r = await run('L', 'add-table', 's1.Big', '--create');
    expect(r).toMatchObject({ code: 1, kind: 'state' });
    expect(r.err).toContain('not replicated on the provider: s1.Big');
    await q('L', 'create table public.t1 (id int primary key, v text)');
    expect(await ok('L', 'add-table', 't1', '--expect-sync', '--skip-truncate')).toBe(
      'Table added: public.t1\n',
    );
    expect(await ok('L', 'add-table', 't2', '--dest-table=public.t2_copy', '--create', '--no-triggers')).toBe(
      'Table added with no triggers: public.t2(public.t2_copy)\n',
    );
    expect(await ok('L', 'add-table', 't3', '--create', '--no-merge')).toBe('Table added: public.t3\n');
    expect(await tableInfo('L')).toEqual([
      // --expect-sync: no copy, so no skip_truncate either (as the original)
      { table_name: 'public.t1', local: true, merge_state: 'ok', table_attrs: null, dest_table: null },
      {
        table_name: 'public.t2',
        local: true,
        merge_state: null,
        table_attrs: null,
        dest_table: 'public.t2_copy',
      },
      { table_name: 'public.t3', local: true, merge_state: null, table_attrs: null, dest_table: null },
      { table_name: 's1.Big', local: false, merge_state: null, table_attrs: null, dest_table: null },
    ]);
    expect((await q('L', "select to_regclass('public.t2_copy') is not null as made")).rows[0]!.made).toBe(
      true,
    );
    // --no-triggers: none on the destination table; the others have londiste's (a leaf's stop local writes).
    const trg = await q(
      'L',
      "select tgrelid::regclass::text as t, count(*)::int as n from pg_trigger where tgname like '_londiste%' group by 1 order by 1",
    );
    expect(trg.rows).toEqual([
      { t: 't1', n: 2 },
      { t: 't3', n: 2 },
    ]);
  });

  it('changes a handler, resyncs and removes tables', async () => {
    expect(await ok('B', 'change-handler', 't1', '--handler=londiste')).toBe(
      'Handler changed for table: public.t1\n',
    );
    expect((await tableInfo('B')).find((x) => x.table_name === 'public.t1')?.table_attrs).toBe(
      'copy_node=R&skip_truncate=1&handler=londiste',
    );
    expect(await ok('B', 'change-handler', 't1', '--handler=londiste')).toBe(
      'Handler is already set to desired value, nothing done\n',
    );
    expect((await run('B', 'change-handler', 'nosuch')).err).toContain(
      'table public.nosuch is not registered on this node',
    );

    await q(
      'B',
      "update londiste.table_info set merge_state = 'ok', custom_snapshot = '1:2:' where table_name = 'public.t2'",
    );
    expect(await ok('B', 'resync', 't2')).toBe('Table public.t2 state set to NULL\n');
    expect((await tableInfo('B')).find((x) => x.table_name === 'public.t2')?.merge_state).toBeNull();
    const snap = await q(
      'B',
      "select custom_snapshot from londiste.table_info where table_name = 'public.t2'",
    );
    expect(snap.rows[0]!.custom_snapshot).toBeNull();
    expect((await run('R', 'resync', 't1')).kind).toBe('state');

    expect(await ok('L', 'remove-table', 't3')).toBe('Table removed: public.t3\n');
    expect(await ok('L', 'tables', '--names-only')).toBe('public.t1\npublic.t2\n');
    expect(await ok('L', 'missing', '--json')).toContain('public.t3');
  });

  it('adds and removes sequences (--create from the provider)', async () => {
    const r = await run('B', 'add-seq', 'seq1');
    expect(r).toMatchObject({ code: 1, kind: 'not_found' });
    expect(r.err).toContain('sequence public.seq1 does not exist on this node');
    expect(await ok('B', 'add-seq', 'seq1', '--create')).toBe('Sequence added: public.seq1\n');
    const s = await q('B', "select start_value::int from pg_sequences where sequencename = 'seq1'");
    expect(s.rows).toEqual([{ start_value: 100 }]);
    expect(JSON.parse(await ok('B', 'seqs', '--json'))).toEqual([
      { seq_name: 'public.seq1', local: true, last_value: rootSeqValue },
    ]);
    expect(await ok('B', 'remove-seq', 'seq1')).toBe('Sequence removed: public.seq1\n');
    expect(JSON.parse(await ok('B', 'seqs', '--json'))[0].local).toBe(false);
    expect(await ok('B', 'remove-seq', 'seq1')).toBe('Sequence not local: public.seq1\n');
    expect((await run('B', 'remove-seq', 'nosuch')).err).toContain('sequence not available: public.nosuch');
  });

  it('status shows each node with its tables, their states and the progress of a running copy', async () => {
    await q('B', "update londiste.table_info set merge_state = 'in-copy' where table_name = 'public.t2'");
    await q(
      'R',
      'insert into public.t2 (v, n) select g::text, g from generate_series(1, 1000) g; analyze public.t2',
    );
    // A copy session as the copy job opens it: its application_name names the table.
    const copier = new pg.Client({
      connectionString: f.c.nodes.B!.url,
      application_name: 'londiste copy public.t2',
      types: typeParsers,
    });
    await copier.connect();
    try {
      await copier.query('begin');
      // as the copy does: a branch's queue takes no trigger events from replicated writes
      await copier.query('set local session_replication_role = replica');
      const stream = copier.query(copyFrom('copy public.t2 (id, v, n) from stdin'));
      const done = new Promise((res, rej) => {
        stream.on('finish', res);
        stream.on('error', rej);
      });
      stream.write(Array.from({ length: 250 }, (_, i) => `${i + 1}\t${i + 1}\t${i + 1}\n`).join(''));
      await waitUntil(
        'the copy to show progress',
        async () => {
          const p = await q('B', 'select tuples_processed from pg_stat_progress_copy');
          return p.rows.length > 0 && Number(p.rows[0]!.tuples_processed) >= 250;
        },
        20_000,
      ).catch(() => {});
      const text = (await run('L', 'status')).out;
      expect(text).toMatch(/^Queue: cq {3}Local node: L/);
      expect(text).toMatch(/^R \(root\).*\n {3}Tables: 4\/0\/0$/m);
      expect(text).toMatch(
        /Tables: 0\/3\/1\n\s+public\.t1: waiting for copy\n\s+public\.t2: in-copy \d+\/1000 rows \(\d+%\), [\d.]+ MB/,
      );
      expect(text).toMatch(/public\.t3: waiting for copy/);
      const js = JSON.parse((await run('L', 'status', '--json')).out);
      const b = js.roots[0].children[0];
      expect(b.name).toBe('B');
      const t2 = b.tables.find((t: { table: string }) => t.table === 'public.t2');
      expect(t2).toMatchObject({ state: 'in-copy', copy: { estimatedRows: 1000 } });
      expect(t2.copy.rows).toBeGreaterThan(0);
      stream.end();
      await done;
      await copier.query('rollback');
    } finally {
      await copier.end();
    }
  });

  it('wait-sync waits for every table to be ok and then for replay to reach the provider', async () => {
    expect(await ok('R', 'wait-sync')).toBe('all 4 table(s) in sync\n');
    expect(await ok('R', 'add-table', 't1', '--wait-sync')).toBe(
      'Table already added: public.t1\nall 4 table(s) in sync\n',
    );
    const slow = await run('B', 'wait-sync', '--timeout=1');
    expect(slow).toMatchObject({ code: 1, kind: 'timeout' });
    expect(slow.err).toContain(
      'timed out waiting for every table on B to be ok; is the worker running? ("skytools londiste <ini> worker")',
    );
    await q('B', "update londiste.table_info set merge_state = 'ok' where local");
    // All ok, but no worker has replayed anything: still waiting, now for the tick.
    await q('R', "select pgq.insert_event('cq', 'x', 'y')");
    await q('R', 'select pgq.ticker()');
    const behind = await run('B', 'wait-sync', '--timeout=1');
    // wait-sync makes the root tick (force_tick) so that writes committed before it count too;
    // with no ticker running, that is what it waits for.
    expect(behind.err).toMatch(
      /timed out waiting for (the root R to tick|node B to replay up to tick \d+ of R)/,
    );
    f.c.startTicker('R');
    f.c.startWorker('B');
    const r = await run('B', 'wait-sync', '--timeout=30');
    expect(
      r.code,
      `${r.err} ${JSON.stringify((await q('B', 'select consumer_name, cur_error from pgq_node.get_consumer_info($1)', ['cq'])).rows)}`,
    ).toBe(0);
    const tick = BigInt(/at tick (\d+)/.exec(r.out)![1]!);
    expect((await f.c.info('B')).workerLastTick! >= tick).toBe(true);
    await f.c.stopWorker('B');
    await f.c.stopTicker('R');
  });

  it('execute runs DDL files on the root once per name, sends them as EXECUTE events, refuses elsewhere', async () => {
    const ddl = path.join(dir, '001-note.sql');
    writeFileSync(ddl, '--*-- Local-Table: public.t1\n\nalter table @public.t1@ add column note text;\n');
    const skip = path.join(dir, '002-skip.sql');
    writeFileSync(skip, '--*-- Need-Table: public.nosuch\ncreate table public.never (x int);\n');
    expect(await ok('R', 'execute', ddl, skip)).toBe(
      'Execute finished: 001-note.sql\nExecute finished: 002-skip.sql\n',
    );
    const cols = await q(
      'R',
      "select attname from pg_attribute where attrelid = 'public.t1'::regclass and attname = 'note'",
    );
    expect(cols.rows).toEqual([{ attname: 'note' }]);
    expect((await q('R', "select to_regclass('public.never') is null as absent")).rows[0]!.absent).toBe(true);
    const ev = await q(
      'R',
      "select ev_extra1, ev_extra2 from pgq.event_template where ev_type = 'EXECUTE' order by ev_id",
    );
    expect(ev.rows).toEqual([
      { ev_extra1: '001-note.sql', ev_extra2: 'local-table=public.t1' },
      { ev_extra1: '002-skip.sql', ev_extra2: 'need-table=public.nosuch' },
    ]);
    // Again: already applied, skipped with a warning, nothing run twice.
    const again = await run('R', 'execute', ddl);
    expect(again).toMatchObject({ code: 0, out: '' });
    expect(again.err).toContain('001-note.sql');
    expect(
      (await q('R', "select count(*)::int as n from pgq.event_template where ev_type = 'EXECUTE'")).rows[0]!
        .n,
    ).toBe(2);
    const bad = path.join(dir, '003-bad.sql');
    writeFileSync(bad, '--*-- Local-Tabel: public.t1\nalter table public.t1 add column bad int;\n');
    const refused = await run('R', 'execute', bad);
    expect(refused).toMatchObject({ code: 1, kind: 'usage' });
    expect(refused.err).toContain('invalid EXECUTE attribute "Local-Tabel"');
    const onBranch = await run('B', 'execute', ddl);
    expect(onBranch).toMatchObject({ code: 1, kind: 'state' });
    expect(onBranch.err).toContain('execute runs on the root; B is a branch');
  });

  it('--find-copy-node walks up to the nearest node that replicates the table and creates it from there', async () => {
    // s1.Big is local on the root only: the leaf's provider B cannot serve it.
    expect((await run('L', 'add-table', 's1.Big', '--create')).kind).toBe('state');
    expect(await ok('L', 'add-table', 's1.Big', '--create', '--find-copy-node')).toBe(
      'Table added: s1.Big\n',
    );
    expect((await q('L', `select to_regclass('s1."Big"') is not null as made`)).rows[0]!.made).toBe(true);
    const big = (await tableInfo('L')).find((x) => x.table_name === 's1.Big');
    // the root's handler attributes are the root's; here the worker is told to find the source itself
    expect(big).toMatchObject({ local: true, merge_state: null, table_attrs: 'copy_node=%3F' });
    const r = await run('L', 'add-table', 't2', '--copy-node=L');
    expect(r.err).toContain('--copy-node cannot be this node itself');
    expect((await run('L', 'add-table', 't2', '--copy-node=nobody')).err).toContain(
      '--copy-node nobody: no such member of queue cq',
    );
  });

  it('show-handlers lists the registry, one handler with its arguments, and refuses unknown names', async () => {
    expect(await ok('L', 'show-handlers')).toMatch(/^londiste - Default Londiste handler/m);
    const one = await ok('L', 'show-handlers', 'londiste');
    expect(one).toContain('Parameters:\n  encoding=ENC - ');
    expect(one).toContain('  ignore_truncate=BOOL - ');
    const bad = await run('L', 'show-handlers', 'nope');
    expect(bad).toMatchObject({ code: 1, kind: 'not_found' });
    expect(bad.err).toContain('unknown handler "nope"');
  });
});
