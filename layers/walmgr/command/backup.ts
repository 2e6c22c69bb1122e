// `walmgr backup`: a base backup of the running cluster into the repository; prints its id.
import { ConfigError } from '../../config/settings.ts';
import type { WalmgrSettings } from '../settings.ts';
import { type CommandIo, processIo, withRepository } from './context.ts';

export interface BackupOptions {
  fast: boolean;
  /** Seconds, as given. */
  archiveTimeout: string;
  /** e.g. 16M, 256k, 1048576. */
  pieceSize: string;
}

/** '16M', '256k', '1048576' → bytes, within [min, max]. */
export function parseSize(v: string, what: string, min: number, max: number): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(v.trim());
  const mult = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 }[(m?.[2] ?? '').toLowerCase()] ?? 1;
  const n = m ? Number(m[1]) * mult : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max)
    throw new ConfigError(
      `${what} ${JSON.stringify(v)}: give a size between ${min / 1024}k and ${max / 1048576}M, e.g. 16M`,
    );
  return n;
}

export async function backupCommand(
  o: BackupOptions,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<void> {
  // Options first: a typo must not start a backup.
  const pieceSize = parseSize(o.pieceSize, '--piece-size', 64 * 1024, 1024 * 1024 * 1024);
  const archiveTimeout = Number(o.archiveTimeout);
  if (!Number.isFinite(archiveTimeout) || archiveTimeout <= 0)
    throw new ConfigError(
      `--archive-timeout ${JSON.stringify(o.archiveTimeout)} is not a positive number of seconds`,
    );
  const [{ backup }, { connectClient }] = await Promise.all([
    import('../backup.ts'),
    import('../../db/connection.ts'),
  ]);
  await withRepository(s, async (storage) => {
    const client = await connectClient({
      ...(s.db ? { connectionString: s.db } : {}),
      applicationName: 'skytools walmgr backup',
    });
    try {
      const m = await backup({
        storage,
        client,
        ...(s.pgdataGiven ? { pgdata: s.pgdata } : {}),
        codec: s.compression,
        parallel: s.parallel,
        fast: o.fast,
        archiveTimeoutMs: archiveTimeout * 1000,
        pieceSize,
        progress: (m) => io.err(`${m}\n`),
      });
      io.out(`${m.id}\n`);
    } finally {
      await client.end();
    }
  });
}
