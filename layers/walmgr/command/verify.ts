// `walmgr verify`: downloads and checks every file of a backup and the WAL it needs. Returns 1
// when any problem is found (a result the caller acts on, not an error).
import os from 'node:os';
import { EXIT } from '../../errors/exit.ts';
import type { VerifyReport } from '../catalog.ts';
import type { WalmgrSettings } from '../settings.ts';
import { type CommandIo, commandMeters, processIo, withRepository } from './context.ts';

export interface VerifyOptions {
  /** 'latest', 'all' or a backup id. */
  backup: string;
  systemId?: string;
}

export function formatVerifyReports(reports: readonly VerifyReport[]): string {
  return reports
    .map(
      (r) =>
        `${r.backup}: ${r.files} files, ${r.walSegments} WAL segments: ${r.problems.length ? 'FAILED' : 'ok'}\n` +
        r.problems.map((p) => `  ${p}\n`).join(''),
    )
    .join('');
}

export async function verifyCommand(
  o: VerifyOptions,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<number> {
  const { verifyAll } = await import('../catalog.ts');
  const meters = await commandMeters(s, io);
  const reports = await withRepository(s, (storage) =>
    verifyAll(
      storage,
      o.backup,
      o.systemId,
      s.parallel,
      (m) => io.err(`${m}\n`),
      // Checks in worker threads, one per core at most.
      Math.min(s.parallel, os.availableParallelism()),
      (m) => meters(`verify ${m.id}`, { backup: m.id }),
    ),
  );
  io.out(formatVerifyReports(reports));
  return reports.some((r) => r.problems.length) ? EXIT.error : EXIT.ok;
}
