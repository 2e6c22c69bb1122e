// `walmgr archive %p %f` (archive_command): a marker left by the background archive-ahead
// process answers at once; otherwise the file is stored (archive.ts), and with a backlog of
// .ready files that process is started for the ones after it. `walmgr archive-ahead` is it.
import path from 'node:path';
import type { WalmgrSettings } from '../settings.ts';
import { consumeMarker, spoolDir } from '../spool.ts';
import { type CommandIo, processIo, withRepository } from './context.ts';

export async function archiveCommand(
  walPath: string,
  walName: string,
  s: WalmgrSettings,
  io: CommandIo = processIo,
  /** The running command line, to start archive-ahead with the same settings. */
  argv: readonly string[] = process.argv,
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
        startAhead: () => startAhead(argv, walPath, walName),
        log: (m) => io.err(`skytools walmgr archive: ${m}\n`),
      }),
    // Never into a missing or unmounted repository; checked once, overlapping the first HEAD.
    'write',
  );
}

/**
 * The same command line with `archive %p %f` replaced by `archive-ahead <dir of %p> %f`,
 * detached: it outlives this call, which returns once %f is stored.
 */
async function startAhead(argv: readonly string[], walPath: string, walName: string) {
  const { spawn } = await import('node:child_process');
  const args = argv.slice(1);
  const at = args.indexOf('archive');
  if (at < 0 || args[at + 1] !== walPath || args[at + 2] !== walName) return undefined;
  const child = spawn(
    process.execPath,
    [...args.slice(0, at), 'archive-ahead', path.dirname(walPath), walName, ...args.slice(at + 3)],
    { detached: true, stdio: 'ignore', cwd: process.cwd() },
  );
  child.unref();
  return child.pid;
}

/** `archive-ahead <wal dir> <skip>`: stores the .ready files after <skip> in the background. */
export async function archiveAheadCommand(
  walDir: string,
  skip: string,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<void> {
  const { archiveAhead } = await import('../archive.ts');
  await withRepository(
    s,
    (storage) =>
      archiveAhead({
        storage,
        pgdata: s.pgdata,
        walDir: path.resolve(s.pgdata, walDir),
        spool: spoolDir(s.pgdata, s.spool),
        codec: s.compression,
        parallel: s.parallel,
        ahead: s.ahead,
        skip,
        log: (m) => io.err(`skytools walmgr archive-ahead: ${m}\n`),
      }),
    'write',
  );
}
