// `walmgr init`: makes the repository a walmgr repository by writing its marker (repository.ts).
// Idempotent; on a repository that already holds WAL and backups it only adds the marker.
import type { WalmgrSettings } from '../settings.ts';
import { type CommandIo, processIo, withRepository } from './context.ts';

export async function initCommand(s: WalmgrSettings, io: CommandIo = processIo): Promise<void> {
  const { initRepository, MARKER_KEY } = await import('../repository.ts');
  const { status } = await withRepository(s, (storage) => initRepository(storage), 'none');
  io.out(
    status === 'created'
      ? `initialised ${s.repo} (wrote ${MARKER_KEY})\n`
      : `${s.repo} is already initialised\n`,
  );
}
