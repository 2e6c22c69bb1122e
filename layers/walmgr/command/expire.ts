// `walmgr expire`: retention from the command line (where no Lambda runs): deletes backups beyond
// the policy and the WAL no kept backup needs, and reports per database system.
import { ConfigError } from '../../config/settings.ts';
import type { RetentionResult } from '../retention.ts';
import type { WalmgrSettings } from '../settings.ts';
import { type CommandIo, processIo, withRepository } from './context.ts';

export interface ExpireOptions {
  keepLast?: number;
  maxAgeDays?: number;
  systemId?: string;
  dryRun?: boolean;
}

export function formatRetention(res: RetentionResult): string {
  const verb = res.dryRun ? 'would delete' : 'deleted';
  const lines: string[] = [];
  for (const r of res.systems) {
    lines.push(
      `${r.systemId}: kept ${r.keptBackups.length} backup(s) [${r.keptBackups.join(', ')}]; ${verb} ${r.expiredBackups.length} backup(s) [${r.expiredBackups.join(', ')}] and ${r.expiredWal.length} WAL file(s) below ${r.walBoundary ?? '(none)'}; ${r.deletedObjects} object(s)`,
    );
    if (r.incompleteBackups.length)
      lines.push(
        `${r.systemId}: left alone ${r.incompleteBackups.length} incomplete backup(s) without a manifest [${r.incompleteBackups.join(', ')}]`,
      );
  }
  if (res.systems.length === 0) lines.push('no backups in the repository: nothing to expire');
  return lines.map((l) => `${l}\n`).join('');
}

export async function expireCommand(
  o: ExpireOptions,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<void> {
  if (o.keepLast === undefined && o.maxAgeDays === undefined)
    throw new ConfigError('expire needs a retention policy: give --keep-last N and/or --max-age-days D', {
      kind: 'missing',
    });
  const { applyRetention, checkPolicy } = await import('../retention.ts');
  const policy = checkPolicy({ keepLast: o.keepLast, maxAgeDays: o.maxAgeDays });
  const res = await withRepository(s, (storage) =>
    applyRetention({
      storage,
      policy,
      ...(o.systemId ? { systemId: o.systemId } : {}),
      dryRun: Boolean(o.dryRun),
      // Deletes are small requests: more of them in flight than transfers.
      parallel: s.parallel * 4,
    }),
  );
  io.out(formatRetention(res));
}
