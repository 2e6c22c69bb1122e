// `walmgr check`: a verdict per check (health.ts) as a table or --json; exit 0 only when every
// check passed (a result the caller acts on, like verify's problems).
import { EXIT } from '../../errors/exit.ts';
import type { CheckResult } from '../health.ts';
import type { WalmgrSettings } from '../settings.ts';
import { type CommandIo, processIo, withRepository } from './context.ts';

export interface CheckCommandOptions {
  /** Seconds to wait for the fresh segment. */
  archiveTimeout: number;
  keepLast?: number;
  maxAgeDays?: number;
  systemId?: string;
  json?: boolean;
}

export function formatChecks(results: readonly CheckResult[]): string {
  const bad = results.filter((r) => r.status !== 'ok').length;
  const rows = results.map(
    (r) =>
      `${r.name.padEnd(11)} ${(r.status === 'ok' ? 'ok' : r.status.toUpperCase()).padEnd(8)} ${r.detail}\n`,
  );
  return `${rows.join('')}check: ${bad ? `FAILED (${bad} of ${results.length} checks did not pass)` : `ok (${results.length} checks passed)`}\n`;
}

export async function checkCommand(
  o: CheckCommandOptions,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<number> {
  const [{ runChecks }, { connectClient }] = await Promise.all([
    import('../health.ts'),
    import('../../db/connection.ts'),
  ]);
  const policy =
    o.keepLast !== undefined || o.maxAgeDays !== undefined
      ? {
          ...(o.keepLast !== undefined ? { keepLast: o.keepLast } : {}),
          ...(o.maxAgeDays !== undefined ? { maxAgeDays: o.maxAgeDays } : {}),
        }
      : undefined;
  // The repository is opened without the marker check: a missing marker is a verdict here.
  const results = await withRepository(
    s,
    async (storage) => {
      const client = await connectClient({
        ...(s.db ? { connectionString: s.db } : {}),
        applicationName: 'skytools walmgr check',
      }).catch((err: Error) => err);
      try {
        return await runChecks({
          storage,
          client: client instanceof Error ? null : client,
          ...(client instanceof Error ? { clientError: client.message } : {}),
          archiveTimeoutMs: o.archiveTimeout * 1000,
          ...(o.systemId ? { systemId: o.systemId } : {}),
          ...(policy ? { policy } : {}),
          progress: (m) => io.err(`${m}\n`),
        });
      } finally {
        if (!(client instanceof Error)) await client.end();
      }
    },
    'none',
  );
  const passed = results.every((r) => r.status === 'ok');
  io.out(o.json ? `${JSON.stringify({ ok: passed, checks: results }, null, 1)}\n` : formatChecks(results));
  return passed ? EXIT.ok : EXIT.error;
}
