// `walmgr backup`: a base backup of the running cluster into the repository; prints its id.
import type { Storage } from '../../storage/types.ts';
import type { WalmgrSettings } from '../settings.ts';
import { type CommandIo, commandMeters, processIo, withRepository } from './context.ts';

export interface BackupOptions {
  /** Immediate checkpoint at the start (false: spread). */
  fast: boolean;
  /** Seconds to wait for the stop segment to be archived. */
  archiveTimeout: number;
  /** Bytes: files larger than this are stored in pieces of this size. */
  pieceSize: number | undefined;
  /** full, diff or incr. */
  type: 'full' | 'diff' | 'incr';
  /** diff/incr: compare by SHA-256 only. */
  checksum: boolean;
  /** When --db is a standby: its primary. */
  primaryDb?: string;
}

export async function backupCommand(
  o: BackupOptions,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<void> {
  const [{ backup }, { connectClient }] = await Promise.all([
    import('../backup.ts'),
    import('../../db/connection.ts'),
  ]);
  const meters = await commandMeters(s, io);
  // Connected while the repository is opened and its marker read: two round trips at once.
  const connecting = connectClient({
    ...(s.db ? { connectionString: s.db } : {}),
    applicationName: 'skytools walmgr backup',
  });
  connecting.catch(() => {}); // surfaces where it is awaited; never as an unhandled rejection
  let used = false;
  try {
    await withRepository(s, async (storage) => {
      used = true;
      await run(storage, await connecting);
    });
  } finally {
    // A repository that failed before the backup began leaves the connection to close here.
    if (!used) await connecting.then((c) => c.end()).catch(() => {});
  }

  async function run(storage: Storage, client: Awaited<typeof connecting>) {
    const primary = o.primaryDb
      ? await connectClient({
          connectionString: o.primaryDb,
          applicationName: 'skytools walmgr backup',
        }).catch(async (err: unknown) => {
          await client.end();
          throw err;
        })
      : undefined;
    try {
      const m = await backup({
        storage,
        client,
        ...(primary ? { primary } : {}),
        ...(s.pgdataGiven ? { pgdata: s.pgdata } : {}),
        codec: s.compression,
        parallel: s.parallel,
        fast: o.fast,
        type: o.type,
        checksum: o.checksum,
        archiveTimeoutMs: o.archiveTimeout * 1000,
        pieceSize: o.pieceSize,
        progress: (m) => io.err(`${m}\n`),
        meter: (id) => meters(`backup ${id}`, { backup: id }),
      });
      io.out(`${m.id}\n`);
    } finally {
      await client.end();
      await primary?.end();
    }
  }
}
