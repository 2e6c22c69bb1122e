// `walmgr listbackups`: complete backups as a table, or their manifests (without file lists) as JSON.
import type { Manifest } from '../manifest.ts';
import type { WalmgrSettings } from '../settings.ts';
import { type CommandIo, processIo, withRepository } from './context.ts';

export interface ListBackupsOptions {
  systemId?: string;
  json?: boolean;
}

const MiB = 1048576;

/** One line per backup; `type` full / diff / incr (a backup from before incremental ones: full). */
export function formatBackupTable(list: readonly Manifest[]): string {
  const head =
    'id                    type  system id            tli  start lsn    stop lsn     size MiB  stored MiB  stop time\n';
  return (
    head +
    list
      .map(
        (m) =>
          `${m.id.padEnd(21)} ${(m.type ?? 'full').padEnd(5)} ${m.systemId.padEnd(20)} ${String(m.timeline).padStart(3)}  ${m.startLsn.padEnd(12)} ${m.stopLsn.padEnd(12)} ${(m.totalSize / MiB).toFixed(1).padStart(8)}  ${(m.storedSize / MiB).toFixed(1).padStart(10)}  ${m.stopTime}\n`,
      )
      .join('')
  );
}

export function formatBackupJson(list: readonly Manifest[]): string {
  return `${JSON.stringify(
    list.map(({ files, dirs, ...rest }) => ({ ...rest, fileCount: files.length })),
    null,
    1,
  )}\n`;
}

export async function listBackupsCommand(
  o: ListBackupsOptions,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<void> {
  const { listBackups } = await import('../catalog.ts');
  const list = await withRepository(s, (storage) => listBackups(storage, o.systemId));
  io.out(o.json ? formatBackupJson(list) : formatBackupTable(list));
}
