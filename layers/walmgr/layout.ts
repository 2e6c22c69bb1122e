// Where things live in the repository (keys are relative to the repository prefix):
//   <sysid>/wal/<TTTTTTTT>/<wal file name>           one object per WAL file, compressed
//   <sysid>/backups/<id>/data/<path in PGDATA>       one object per data file, compressed
//   <sysid>/backups/<id>/data/~bundle-<n>           small files stored together (manifest format 2)
//   <sysid>/backups/<id>/manifest.json               written last: its presence = backup complete
import type { WalName } from './wal.ts';

export function walKey(sysid: string, wal: WalName): string {
  return `${sysid}/wal/${wal.tli.toString(16).toUpperCase().padStart(8, '0')}/${wal.name}`;
}

export function backupPrefix(sysid: string, id: string): string {
  return `${sysid}/backups/${id}`;
}

export function backupFileKey(sysid: string, id: string, rel: string): string {
  return `${backupPrefix(sysid, id)}/data/${rel}`;
}

/** Key of piece n of a file stored in pieces ('~' never occurs in PGDATA file names). */
export function pieceKey(fileKey: string, n: number): string {
  return `${fileKey}~${n}`;
}

/** Key of bundle n of a backup (bundle.ts): small files stored together, beside the data files. */
export function bundleKey(sysid: string, id: string, n: number): string {
  return `${backupPrefix(sysid, id)}/data/~bundle-${n}`;
}

export function manifestKey(sysid: string, id: string): string {
  return `${backupPrefix(sysid, id)}/manifest.json`;
}

/** Object metadata keys (S3 user metadata: lower-case). */
export const META = {
  sha256: 'sha256',
  size: 'size',
  codec: 'compression',
  sysid: 'system-id',
  name: 'wal-name',
} as const;
