// `walmgr stream`: pg_receivewal through a slot, the segment in progress uploaded as .partial
// every interval (stream.ts); stops cleanly on SIGTERM / SIGINT after a final upload.
import path from 'node:path';
import type { WalmgrSettings } from '../settings.ts';
import { spoolDir } from '../spool.ts';
import { type CommandIo, processIo, withRepository } from './context.ts';

export interface StreamOptions {
  slot: string;
  /** Seconds between uploads of the partial segment. */
  interval: number;
  pgBin?: string;
  streamDir?: string;
}

export async function streamCommand(
  o: StreamOptions,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<void> {
  const { streamWal, findReceivewal } = await import('../stream.ts');
  const receivewal = findReceivewal(o.pgBin);
  const dir = path.resolve(o.streamDir ?? path.join(spoolDir(s.pgdata, s.spool), 'stream'));
  await withRepository(s, async (storage) => {
    const stop = new Promise<void>((res) => {
      process.once('SIGTERM', () => res());
      process.once('SIGINT', () => res());
    });
    await streamWal({
      storage,
      dir,
      ...(s.db ? { db: s.db } : {}),
      slot: o.slot,
      codec: s.compression,
      intervalMs: o.interval * 1000,
      receivewal,
      stop,
      log: (m) => io.err(`skytools walmgr stream: ${m}\n`),
    });
  });
}
