// `walmgr archive %p %f` (archive_command): a marker left by an earlier archive-ahead pass
// answers at once; otherwise the file is stored (archive.ts) with the next .ready files.
import path from 'node:path';
import type { WalmgrSettings } from '../settings.ts';
import { consumeMarker, spoolDir } from '../spool.ts';
import { type CommandIo, processIo, withRepository } from './context.ts';

export async function archiveCommand(
  walPath: string,
  walName: string,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<void> {
  const spool = spoolDir(s.pgdata, s.spool);
  if (consumeMarker(spool, walName, path.resolve(s.pgdata, walPath))) return;
  const { archiveWal } = await import('../archive.ts');
  await withRepository(
    s,
    (storage) =>
      archiveWal({
        storage,
        walPath,
        walName,
        pgdata: s.pgdata,
        spool,
        codec: s.compression,
        parallel: s.parallel,
        ahead: s.ahead,
        log: (m) => io.err(`skytools walmgr archive: ${m}\n`),
      }),
    // Never into a missing or unmounted repository; checked once, overlapping the first HEAD.
    'write',
  );
}
