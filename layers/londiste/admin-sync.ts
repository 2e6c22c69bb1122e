// wait-sync (and add-table --wait-sync): until every local table is `ok` and then until this
// node's worker has replayed up to the tick its provider had at that moment — so that when it
// returns, the tables hold at least what the provider held when the last copy finished. The
// original waits for the table states only; a table can be `ok` with its replay still behind.
import { CascadeError } from '../cascade/node.ts';
import type { LondisteContext } from './admin-context.ts';
import { LondisteError } from './errors.ts';
import { getTableList } from './tables.ts';

/** The session's bounded wait, its timeout naming Londiste's worker command. */
async function waitFor(ctx: LondisteContext, what: string, check: () => Promise<boolean>): Promise<void> {
  try {
    await ctx.s.waitFor(what, check);
  } catch (err) {
    if (err instanceof CascadeError && err.kind === 'timeout')
      throw new LondisteError(
        'timeout',
        `timed out waiting for ${what}; is the worker running? ("skytools londiste <ini> worker")`,
        { cause: err },
      );
    throw err;
  }
}

export interface WaitSyncResult {
  tables: number;
  /** The provider's tick waited for (null on the root, which has nothing to wait for). */
  tick: bigint | null;
}

export async function waitSync(ctx: LondisteContext): Promise<WaitSyncResult> {
  const s = ctx.s;
  await s.loadLocal();
  const me = s.localName;
  const db = await s.local();
  const info = s.localInfo;
  let total = 0;
  const pending = new Set<string>();
  let reported = false;
  s.log.info('waiting until all tables are in sync');
  await waitFor(ctx, `every table on ${me} to be ok`, async () => {
    const local = (await getTableList(db, s.queue)).filter((t) => t.local);
    total = local.length;
    const notOk = local.filter((t) => t.mergeState !== 'ok').map((t) => t.tableName);
    if (!reported) {
      s.log.info(`${notOk.length}/${total} table(s) to copy`);
      reported = true;
    }
    for (const t of pending) {
      if (!notOk.includes(t)) s.log.info(`${t}: finished (${total - notOk.length}/${total})`);
    }
    pending.clear();
    for (const t of notOk) pending.add(t);
    return notOk.length === 0;
  });
  if (info.nodeType === 'root' || !info.providerNode) {
    s.log.info('all tables in sync');
    return { tables: total, tick: null };
  }
  const provider = info.providerNode;
  // Everything committed on the root before this command must be replayed too: make the root
  // tick (force_tick makes the next ticker pass tick it), then wait for that tick to reach the
  // provider and this node. The provider's last tick alone may not contain a write committed a
  // moment ago.
  const root = await s.rootName();
  let tick: bigint | null;
  if (root) {
    const before = await s.lastTick(root);
    const rootDb = await s.nodeDb(root);
    if (rootDb) await rootDb.query('select pgq.force_tick($1)', [s.queue]);
    await waitFor(ctx, `the root ${root} to tick`, async () => {
      const t = await s.lastTick(root);
      return t != null && (before == null || t > before);
    });
    tick = await s.lastTick(root);
    if (tick != null && provider !== root) {
      const target = tick;
      await waitFor(ctx, `provider ${provider} to reach tick ${target}`, async () => {
        const t = await s.lastTick(provider);
        return t != null && t >= target;
      });
    }
  } else {
    tick = await s.lastTick(provider);
  }
  if (tick == null) return { tables: total, tick: null };
  s.log.info(`all tables ok; waiting for replay to reach tick ${tick} of ${provider}`);
  await waitFor(ctx, `node ${me} to replay up to tick ${tick} of ${provider}`, async () => {
    const t = (await s.nodeInfo(me)).workerLastTick;
    return t != null && t >= tick;
  });
  s.log.info('all tables in sync');
  return { tables: total, tick };
}
