// `walmgr archive %p %f` (archive_command): a marker left by the background archive-ahead
// process answers at once; otherwise the file is stored (archive.ts), and with a backlog of
// .ready files that process is started for the ones after it. `walmgr archive-ahead` is it.
import path from 'node:path';
import type { WalmgrSettings } from '../settings.ts';
import { aheadLogPath, consumeMarker, spoolDir } from '../spool.ts';
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
  const fullPath = path.resolve(s.pgdata, walPath);
  if (consumeMarker(spool, walName, fullPath)) return;
  const { archiveWal, waitForAhead } = await import('../archive.ts');
  // archive-fast.sh waits for a file in flight there; the bare command must too.
  if (await waitForAhead(spool, walName, fullPath)) return;
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
        startAhead: () => startAhead(argv, walPath, walName, spool),
        log: (m) => io.err(`skytools walmgr archive: ${m}\n`),
      }),
    // Never into a missing or unmounted repository; checked once, overlapping the first HEAD.
    'write',
  );
}

/** The log is moved to `.1` (one generation kept) when it has grown past this at a start. */
const AHEAD_LOG_MAX = 1 << 20;

/**
 * The same command line with `archive %p %f` replaced by `archive-ahead <dir of %p> %f`,
 * detached: it outlives this call, which returns once %f is stored. Its stdout and stderr are
 * appended to the spool's archive-ahead.log.
 */
async function startAhead(argv: readonly string[], walPath: string, walName: string, spool: string) {
  const { spawn } = await import('node:child_process');
  const fs = await import('node:fs');
  const args = argv.slice(1);
  const at = args.indexOf('archive');
  if (at < 0 || args[at + 1] !== walPath || args[at + 2] !== walName) return undefined;
  const logPath = aheadLogPath(spool);
  let out: number | 'ignore' = 'ignore';
  try {
    fs.mkdirSync(spool, { recursive: true });
    if ((fs.statSync(logPath, { throwIfNoEntry: false })?.size ?? 0) > AHEAD_LOG_MAX)
      fs.renameSync(logPath, `${logPath}.1`);
    out = fs.openSync(logPath, 'a', 0o600);
  } catch {
    // No log then; the .error notes still say what failed.
  }
  try {
    const child = spawn(
      process.execPath,
      [...args.slice(0, at), 'archive-ahead', path.dirname(walPath), walName, ...args.slice(at + 3)],
      { detached: true, stdio: ['ignore', out, out], cwd: process.cwd() },
    );
    child.unref();
    return child.pid;
  } finally {
    if (typeof out === 'number') fs.closeSync(out);
  }
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
        // Its stderr is the spool's archive-ahead.log: each line with its time.
        log: (m) => io.err(`${new Date().toISOString()} skytools walmgr archive-ahead: ${m}\n`),
      }),
    'write',
  );
}
