// `walmgr restore-wal %f %p` (restore_command) and its background half `restore-prefetch`.
// Returns the exit code PostgreSQL reads: 0 restored, 1 not in the archive (end of archive
// recovery). Errors are thrown; the CLI's policy exits 126 for them, so recovery stops instead
// of promoting early (layers/errors/exit.ts).
import path from 'node:path';
import { EXIT } from '../../errors/exit.ts';
import type { ObjectGetter } from '../../storage/index.ts';
import type { Storage } from '../../storage/types.ts';
import { WalError } from '../errors.ts';
import type { WalmgrSettings } from '../settings.ts';
import { spoolDir } from '../spool.ts';
import { type CommandIo, openRepository, openRepositoryGetter, processIo } from './context.ts';

/**
 * The repository opened on first use: a segment served from a full spool needs none. Segments
 * are read through `getter` (no AWS SDK when the credentials are in the environment); the
 * full storage (`open`; on S3 without the SDK too when the keys are in the environment) only for
 * what a miss needs: the marker, a listing.
 */
function lazyRepository(s: WalmgrSettings) {
  let storage: Promise<Storage> | undefined;
  let getter: Promise<ObjectGetter> | undefined;
  return {
    open: () => {
      storage ??= openRepository(s);
      return storage;
    },
    getter: () => {
      getter ??= openRepositoryGetter(s);
      return getter;
    },
    close: async () => {
      if (storage) (await storage.catch(() => null))?.close();
      if (getter) (await getter.catch(() => null))?.close();
    },
  };
}

async function systemIdOf(pgdata: string): Promise<string | null> {
  const { readSystemId } = await import('../wal.ts');
  return readSystemId(pgdata);
}

export async function restoreWalCommand(
  walName: string,
  destPath: string,
  s: WalmgrSettings,
  io: CommandIo = processIo,
  /** The running command line, to start the prefetcher with the same settings. */
  argv: readonly string[] = process.argv,
): Promise<number> {
  const [{ restoreWal }, sysid] = await Promise.all([import('../restore-wal.ts'), systemIdOf(s.pgdata)]);
  if (!sysid)
    throw new WalError(
      'invalid',
      `cannot read ${path.join(s.pgdata, 'global/pg_control')}; restore-wal runs in the data directory (or pass --pgdata)`,
    );
  const repo = lazyRepository(s);
  try {
    const res = await restoreWal({
      storage: repo.open,
      getter: repo.getter,
      walName,
      destPath,
      pgdata: s.pgdata,
      sysid,
      spool: spoolDir(s.pgdata, s.spool),
      prefetch: s.prefetch,
      parallel: s.parallel,
      usePartial: s.usePartial,
      log: (m) => io.err(`skytools walmgr restore-wal: ${m}\n`),
    });
    if (res.refillAfter) await startPrefetcher(argv, res.refillAfter, spoolDir(s.pgdata, s.spool));
    if (res.status === 'not-found') {
      io.err(`skytools walmgr restore-wal: ${walName} is not in ${(await repo.open()).description}\n`);
      return EXIT.notFound;
    }
    return EXIT.ok;
  } finally {
    await repo.close();
  }
}

/**
 * Refills the prefetch window in a detached process so this call returns now: the same command
 * line with `restore-wal %f %p` replaced by `restore-prefetch <name> <segment size>`.
 */
async function startPrefetcher(
  argv: readonly string[],
  after: { walName: string; segSize: number },
  spool: string,
) {
  const [{ spawn }, fs, { startingPath }] = await Promise.all([
    import('node:child_process'),
    import('node:fs/promises'),
    import('../restore-wal.ts'),
  ]);
  const args = argv.slice(1);
  const at = args.indexOf('restore-wal');
  if (at < 0) return;
  // The next call waits for the prefetcher's start instead of fetching itself meanwhile.
  const starting = startingPath(spool);
  await fs.mkdir(path.dirname(starting), { recursive: true });
  await fs.writeFile(starting, '');
  const child = spawn(
    process.execPath,
    [...args.slice(0, at), 'restore-prefetch', after.walName, String(after.segSize), ...args.slice(at + 3)],
    { detached: true, stdio: 'ignore', cwd: process.cwd() },
  );
  child.unref();
}

/** `restore-prefetch <name> <segsize>`: fetches the segments after <name> into the spool. */
export async function restorePrefetchCommand(
  walName: string,
  segSize: string,
  s: WalmgrSettings,
): Promise<void> {
  const [{ prefetchWindow }, sysid] = await Promise.all([import('../restore-wal.ts'), systemIdOf(s.pgdata)]);
  if (!sysid) return;
  const repo = lazyRepository(s);
  try {
    await prefetchWindow(
      {
        storage: repo.open,
        getter: repo.getter,
        walName,
        destPath: '',
        pgdata: s.pgdata,
        sysid,
        spool: spoolDir(s.pgdata, s.spool),
        prefetch: s.prefetch,
        parallel: s.parallel,
      },
      walName,
      Number(segSize),
    );
  } finally {
    await repo.close();
  }
}
