// The handlers from the command line (`skytools londiste <ini> …` in this process):
// show-handlers lists every handler and one with its arguments; add-table --handler=qtable on
// the root makes the BEFORE INSERT SKIP trigger (rows queued, not stored) and stores the handler
// string; add-table --handler=shard adds the hash to ev_extra3; multimaster and bad dispatch
// arguments are refused before anything changes; a handler_modules module of the ini is loaded
// and its handler is known to show-handlers and add-table.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../cli/commands/londiste.ts';
import { reportError } from '../../layers/errors/exit.ts';
import { useCluster } from '../cascade/cluster.ts';

const f = useCluster(['R']);
const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-handlers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const handlerTs = pathToFileURL(path.resolve('layers/londiste/handler.ts')).href;
writeFileSync(
  path.join(dir, 'mine.ts'),
  `import { BaseHandler } from '${handlerTs}';
export const handlers = [{
  name: 'mine', summary: 'My own handler.', args: [{ name: 'x', usage: 'x=N', help: 'a number' }],
  create: (t, a, d) => new (class extends BaseHandler { get name() { return 'mine'; } })(handlers[0], t, a, d),
}];`,
);

function ini(): string {
  const file = path.join(dir, 'R.ini');
  writeFileSync(
    file,
    [
      '[londiste]',
      'job_name = w_R',
      'queue_name = hq',
      `db = ${f.c.loc('R')}`,
      'node_name = R',
      'handler_modules = ./mine.ts',
      '',
    ].join('\n'),
  );
  return file;
}

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
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
    await program.parseAsync(['node', 'skytools', 'londiste', ini(), ...args, '-q']);
    return { code: 0, out, err };
  } catch (error) {
    const code = reportError(
      error,
      { command: 'londiste', operands: [ini(), args[0] ?? ''] },
      { write: (s) => (err += s), env: {} },
    );
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

const q = (sql: string) => f.c.nodes.R!.query(sql);

describe('handlers from the command line', () => {
  it('show-handlers, add-table with handlers, refusals, handler_modules', async () => {
    await q(`create table public.qt (id int primary key, v text);
      create table public.sh (id int primary key, v text);
      create table public.mm (id int primary key);
      create schema partconf;
      create function partconf.get_hash_raw(i int) returns int language sql as 'select i'`);
    expect((await run('create-root', 'R')).code).toBe(0);

    const list = (await run('show-handlers')).out;
    for (const n of [
      'londiste',
      'dispatch',
      'daily_field',
      'bulk_yearly_time',
      'bulk',
      'shard',
      'part',
      'qtable',
      'qsplitter',
      'applyfn',
      'vtable',
      'fake_local',
      'obfuscate',
      'multimaster',
      'mine',
    ])
      expect(list).toMatch(new RegExp(`^${n} - `, 'm'));
    expect((await run('show-handlers', 'bulk')).out).toMatch(
      /^bulk - Bulk loading[^\n]*\n\nParameters:\n {2}method=TYPE - /,
    );
    expect((await run('show-handlers', 'mine')).out).toBe(
      'mine - My own handler.\n\nParameters:\n  x=N - a number\n',
    );

    expect((await run('add-table', 'public.qt', '--handler=qtable')).code).toBe(0);
    expect((await run('add-table', 'public.sh', '--handler=shard', '--handler-arg=key=id')).code).toBe(0);
    const info = await q(
      "select table_name, merge_state, table_attrs from londiste.table_info where queue_name = 'hq' order by 1",
    );
    expect(info.rows).toEqual([
      { table_name: 'public.qt', merge_state: 'ok', table_attrs: 'handler=qtable' },
      { table_name: 'public.sh', merge_state: 'ok', table_attrs: 'handler=shard%28key%3Did%29' },
    ]);
    await q(`insert into public.qt values (1, 'a'); insert into public.sh values (7, 'b')`);
    expect((await q('select * from public.qt')).rows).toEqual([]);
    const ev = await q(
      "select ev_extra1, ev_extra3 from pgq.event_all where ev_extra1 in ('public.qt', 'public.sh') order by ev_id",
    );
    expect(ev.rows).toEqual([
      { ev_extra1: 'public.qt', ev_extra3: null },
      { ev_extra1: 'public.sh', ev_extra3: 'hash=7' },
    ]);

    const mm = await run('add-table', 'public.mm', '--handler=multimaster');
    expect(mm.code).not.toBe(0);
    expect(mm.err).toMatch(/multimaster .*not available here/);
    const bad = await run('add-table', 'public.mm', '--handler=daily_field');
    expect(bad.err).toMatch(/requires part_field/);
    expect((await run('add-table', 'public.mm', '--handler=mine', '--handler-arg=x=1')).code).toBe(0);
    expect(
      (await q("select table_attrs from londiste.table_info where table_name = 'public.mm'")).rows,
    ).toEqual([{ table_attrs: 'handler=mine%28x%3D1%29' }]);
  }, 120_000);
});
