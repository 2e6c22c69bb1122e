// handler_modules: a user's own handler in an ES module next to the config file, loaded as a
// worker or admin command loads it — registered, listed by show-handlers with its arguments,
// given the [londiste] keys (loadConf), built from a table's handler string and applying the
// events our logutriga makes; the original's module names are accepted as built in; a module
// that cannot be loaded is a usage error naming it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { SetApplier } from '../../layers/londiste/apply/applier.ts';
import { buildHandler, formatHandlers } from '../../layers/londiste/handlers/index.ts';
import { loadHandlerModules } from '../../layers/londiste/handlers/modules.ts';
import { useTestDatabase } from '../support/db.ts';
import { applyBatch, setupQueue, takeBatch } from './fixtures/trigger-events.ts';

const db = useTestDatabase();
const Q = 'mq';
const C = 'mod_test';
const handlerTs = pathToFileURL(path.resolve('layers/londiste/handler.ts')).href;

// What a user writes: a handler that counts the table's events per operation into a table.
const MODULE = `
import { BaseHandler } from '${handlerTs}';
let target = 'public.op_counts';
const spec = {
  name: 'counter',
  summary: 'Counts events per operation.',
  args: [{ name: 'label', usage: 'label=TEXT', help: 'the row label' }],
  create: (table, args, dest) => new Counter(table, args, dest),
  loadConf: (conf) => { target = conf.get('counter_table') ?? target; },
};
class Counter extends BaseHandler {
  constructor(table, args, dest) { super(spec, table, args, dest); }
  get name() { return 'counter'; }
  async processEvent(ev, ctx) {
    await ctx.local.query(
      'insert into ' + target + ' values ($1, $2, 1) on conflict (label, op) do update set n = ' + target + '.n + 1',
      [this.args.label ?? 'none', ev.type[0]]);
  }
}
export const handlers = [spec];
`;

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hmod-'));
  writeFileSync(path.join(dir, 'counter.ts'), MODULE);
  writeFileSync(path.join(dir, 'job.ini'), '[londiste]\n');
  await setupQueue(db, Q, C);
  await db.query(`create table public.src (id int primary key, v text);
    create trigger t after insert or update or delete on public.src for each row execute procedure pgq.logutriga('${Q}');
    create table app_counts (label text, op text, n int, primary key (label, op))`);
});

describe('handler_modules', () => {
  it('loads a user handler and applies events through it', async () => {
    await loadHandlerModules({
      modules: ['londiste.handlers.bulk', './counter.ts'],
      values: { counter_table: 'public.app_counts' },
      configFile: path.join(dir, 'job.ini'),
    });
    expect(formatHandlers()).toMatch(/^counter - Counts events per operation\.$/m);
    expect(formatHandlers(['counter'])).toBe(
      'counter - Counts events per operation.\n\nParameters:\n  label=TEXT - the row label',
    );
    expect(() => buildHandler('public.src', 'counter(x=1)')).toThrow(/invalid handler argument: x/);
    await db.query(
      `insert into public.src values (1, 'a'), (2, 'b'); update public.src set v = 'c'; delete from public.src where id = 1`,
    );
    const events = await takeBatch(db, Q, C);
    const h = buildHandler('public.src', 'counter(label=mine)');
    const client = await db.connect();
    try {
      await applyBatch(client, events, { handlers: new Map([['public.src', h]]), applier: new SetApplier() });
    } finally {
      await client.end();
    }
    const r = await db.query('select op, n from app_counts where label = $1 order by op', ['mine']);
    expect(r.rows).toEqual([
      { op: 'D', n: 1 },
      { op: 'I', n: 2 },
      { op: 'U', n: 2 },
    ]);
  });

  it('refuses a module it cannot load, naming it', async () => {
    await expect(
      loadHandlerModules({ modules: ['./nope.ts'], values: {}, configFile: path.join(dir, 'job.ini') }),
    ).rejects.toThrow(/handler_modules: cannot load \.\/nope\.ts/);
  });
});
