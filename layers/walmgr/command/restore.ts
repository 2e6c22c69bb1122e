// `walmgr restore`: a base backup into an empty data directory, with recovery set up (PITR or
// standby) and a restore_command that uses the shell fast path.
import { availableParallelism } from 'node:os';
import { ConfigError } from '../../config/settings.ts';
import type { WalmgrSettings } from '../settings.ts';
import {
  type CommandIo,
  commandMeters,
  FAST_RESTORE,
  processIo,
  repoFlags,
  shq,
  withRepository,
} from './context.ts';

const ACTIONS = ['pause', 'promote', 'shutdown'] as const;

export interface RestoreOptions {
  backup: string;
  systemId?: string;
  targetTime?: string;
  targetLsn?: string;
  targetXid?: string;
  targetAction: string;
  standby?: boolean;
  restoreCommand?: string;
  /** --tablespace-map oid=path / name=path, repeatable. */
  tablespaceMap?: string[];
}

/** The restore_command written into the restored cluster. */
export function restoreCommandLine(s: WalmgrSettings): string {
  return `SKYTOOLS_NODE=${shq(process.execPath)} ${shq(FAST_RESTORE)} %f %p ${repoFlags(s, 'restore')}`;
}

export async function restoreCommand(
  o: RestoreOptions,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<void> {
  if (!s.pgdataGiven)
    throw new ConfigError('restore needs --pgdata <new empty directory> (or PGDATA)', { kind: 'missing' });
  const action = ACTIONS.find((a) => a === o.targetAction);
  if (!action) throw new ConfigError(`--target-action ${o.targetAction}: use pause, promote or shutdown`);
  const [{ checkRecoveryTarget, restoreBackup }, { parseTablespaceMap }] = await Promise.all([
    import('../restore.ts'),
    import('../tablespaces.ts'),
  ]);
  const tablespaceMap = parseTablespaceMap(o.tablespaceMap ?? []);
  const target = {
    ...(o.targetTime !== undefined ? { time: o.targetTime } : {}),
    ...(o.targetLsn !== undefined ? { lsn: o.targetLsn } : {}),
    ...(o.targetXid !== undefined ? { xid: o.targetXid } : {}),
    action,
  };
  // Before the repository is even opened: a bad target would only show when the server starts.
  checkRecoveryTarget(target);
  const meters = await commandMeters(s, io);
  await withRepository(s, (storage) =>
    restoreBackup({
      storage,
      backup: o.backup,
      ...(o.systemId ? { systemId: o.systemId } : {}),
      pgdata: s.pgdata,
      parallel: s.parallel,
      // Fetch + decompress + check + write in worker threads, one per core (each with several
      // GETs in flight when --parallel is higher): a worker costs ~0.1–0.3 s of CPU to start
      // and its own garbage collector, so more workers than cores only add work.
      workers: Math.min(s.parallel, availableParallelism()),
      restoreCommand: o.restoreCommand ?? restoreCommandLine(s),
      target,
      standby: Boolean(o.standby),
      tablespaceMap,
      progress: (m) => io.err(`${m}\n`),
      meter: meters('restore', { pgdata: s.pgdata }),
    }),
  );
}
