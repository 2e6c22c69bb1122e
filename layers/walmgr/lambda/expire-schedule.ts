// wal-expire's work: one retention pass over the repository (retention.ts), logged per database
// system and counted (WalBackupsExpired, WalFilesExpired) unless it is a dry run.
import type { Storage } from '../../storage/types.ts';
import type { Logger } from '../../util/log.ts';
import { applyRetention, type RetentionPolicy, type RetentionResult } from '../retention.ts';

export interface ExpireDeps {
  storage(): Promise<Storage>;
  policy: RetentionPolicy;
  dryRun: boolean;
  log: Logger;
  count(metric: string, n: number): void;
}

/** An event `{ "dryRun": true }` forces a dry run for one invocation. */
export async function expireOnce(
  event: { dryRun?: boolean } | undefined,
  deps: ExpireDeps,
): Promise<RetentionResult> {
  const { log } = deps;
  const res = await applyRetention({
    storage: await deps.storage(),
    policy: deps.policy,
    dryRun: deps.dryRun || event?.dryRun === true,
    log: (msg, fields) => log.info(msg, fields ?? {}),
  });
  for (const s of res.systems) {
    log.info(res.dryRun ? 'retention plan (dry run)' : 'retention applied', {
      systemId: s.systemId,
      kept: s.keptBackups,
      expired: s.expiredBackups,
      incomplete: s.incompleteBackups,
      walBoundary: s.walBoundary,
      walExpired: s.expiredWal.length,
      objects: s.deletedObjects,
    });
    if (!res.dryRun) {
      deps.count('WalBackupsExpired', s.expiredBackups.length);
      deps.count('WalFilesExpired', s.expiredWal.length);
    }
  }
  return res;
}

/** What the invocation returns. */
export function expireSummary(res: RetentionResult) {
  return {
    dryRun: res.dryRun,
    systems: res.systems.map((s) => ({
      systemId: s.systemId,
      expiredBackups: s.expiredBackups,
      walFilesExpired: s.expiredWal.length,
    })),
  };
}
