// The `compare` and `repair` commands of `skytools londiste <ini>`: flags and [londiste]
// settings → compareTables / repairTables, text or --json on stdout, and the exit code (compare:
// the number of tables that differ, as the original; repair: 1 when differences were found and
// not applied). Loaded only when one of the two runs.
import type { AdminCall } from '../../cascade/admin-commands.ts';
import type { LondisteContext } from '../admin-context.ts';
import { LondisteError } from '../errors.ts';
import type { LondisteConfig } from '../settings.ts';
import { compareTables, formatCompare } from './compare.ts';

function settings(call: AdminCall) {
  const l = (call.cfg as Partial<LondisteConfig>).londiste;
  return {
    parallel: l?.compare_parallel,
    splitRows: l?.compare_split_rows,
  };
}

function timeoutMs(call: AdminCall): number | undefined {
  const t = call.flags.timeout;
  if (t === undefined) return undefined;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) throw new LondisteError('usage', `--timeout must be seconds, not ${t}`);
  return n * 1000;
}

/** Sets the exit code without ending the process (the CLI returns it after stdout is flushed). */
function exitWith(code: number): void {
  if (code) process.exitCode = Math.min(code, 255);
}

export async function runCompare(ctx: LondisteContext, call: AdminCall): Promise<void> {
  const { args, flags, out, log } = call;
  const r = await compareTables({
    s: ctx.s,
    localLocation: call.cfg.db,
    tables: args,
    countOnly: flags.countOnly === true,
    force: flags.force === true,
    timeoutMs: timeoutMs(call),
    lockTimeoutMs: ctx.cfg.lockTimeoutMs,
    log,
    ...settings(call),
  });
  const ini = (call.cfg as Partial<LondisteConfig>).configFile ?? '<ini>';
  const hint = (t: { table: string; repairWhere: string }) =>
    `repair with: skytools londiste ${ini} repair ${t.table}` +
    (t.repairWhere ? ` --repair-where ${JSON.stringify(t.repairWhere)}` : '');
  const text = flags.json
    ? JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)
    : formatCompare(r, hint);
  if (text) out(text);
  exitWith(r.differ);
}

export async function runRepair(ctx: LondisteContext, call: AdminCall): Promise<void> {
  const { args, flags, out, log } = call;
  // Here, not at the top: compare does not load the COPY merge.
  const { repairTables } = await import('./repair.ts');
  const where = typeof flags.repairWhere === 'string' ? flags.repairWhere : undefined;
  const output = typeof flags.output === 'string' ? flags.output : undefined;
  const r = await repairTables({
    s: ctx.s,
    localLocation: call.cfg.db,
    tables: args,
    apply: flags.apply === true,
    where,
    output,
    write: output ? undefined : (s: string) => process.stdout.write(s),
    force: flags.force === true,
    timeoutMs: timeoutMs(call),
    lockTimeoutMs: ctx.cfg.lockTimeoutMs,
    parallel: settings(call).parallel,
    log,
  });
  const lines = r.tables.map(
    (t) =>
      `${t.table}: ${t.inserts} insert(s), ${t.updates} update(s), ${t.deletes} delete(s)` +
      `${t.applied ? ' applied' : ''} (${t.providerRows} provider rows, ${t.subscriberRows} here, tick ${r.tick})`,
  );
  for (const s of r.skipped) lines.push(`${s.table}: skipped, ${s.reason}`);
  // With the statements on stdout, the summary goes to the log so the SQL stays runnable.
  if (output || flags.apply) {
    if (flags.json) out(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2));
    else if (lines.length) out(lines.join('\n'));
  } else {
    for (const l of lines) log.info(l);
  }
  exitWith(r.differences > 0 && !flags.apply ? 1 : 0);
}
