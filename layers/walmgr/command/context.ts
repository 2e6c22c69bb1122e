// What every walmgr command needs besides its own options: the resolved settings, where to write
// (stdout for results, stderr for progress), and the repository opened from the settings.
import path from 'node:path';
import { ConfigError } from '../../config/settings.ts';
import type { ObjectGetter, OpenOptions } from '../../storage/index.ts';
import type { Storage } from '../../storage/types.ts';
import type { Progress } from '../progress.ts';
import { WALMGR_SETTINGS, type WalmgrSettings } from '../settings.ts';

export interface CommandIo {
  /** Results (stdout). */
  out(text: string): void;
  /** Progress and warnings (stderr). */
  err(text: string): void;
  /** Whether err goes to a terminal (progress then rewrites one line), and its width. */
  errTty?: { isTTY: boolean; columns?: number };
}

export const processIo: CommandIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  get errTty() {
    return { isTTY: Boolean(process.stderr.isTTY), columns: process.stderr.columns };
  },
};

/** Makes the progress meter of one transfer (its label and log fields, e.g. the backup id). */
export type MeterFactory = (label: string, fields: Record<string, string>) => Progress;

/**
 * The progress meters of a transfer command: an updating line on a terminal, else a log line
 * (text, or JSON with LOG_FORMAT=json) every --progress-interval seconds, all on stderr.
 * Loaded on demand: archive, the hot path, never needs them.
 */
export async function commandMeters(s: WalmgrSettings, io: CommandIo): Promise<MeterFactory> {
  const [{ progressMeter }, { createLogger }] = await Promise.all([
    import('../progress.ts'),
    import('../../util/log.ts'),
  ]);
  const tty = io.errTty ?? { isTTY: false };
  const logger = createLogger({ write: (line) => io.err(`${line}\n`) });
  return (label, fields) =>
    progressMeter({
      label,
      fields,
      tty: { ...tty, write: (t: string) => io.err(t) },
      logger,
      intervalMs: s.progressInterval * 1000,
    });
}

function requireRepo(s: WalmgrSettings): string {
  if (!s.repo)
    throw new ConfigError(
      'no repository: pass --repo s3://bucket/prefix (or a directory), set WALMGR_REPO, or walmgr_data in the .ini',
      { kind: 'missing' },
    );
  return s.repo;
}

/** The storage options the settings give (endpoint, region, bounds), for both openers below. */
function storageOptions(s: WalmgrSettings): OpenOptions {
  return {
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.region ? { region: s.region } : {}),
    conditionalPut: s.conditionalPut,
    requestDeadlineMs: s.timeout * 1000,
    idleTimeoutMs: Math.min(s.timeout, 30) * 1000,
    // Every WAL file and backup object is checked by its SHA-256 after download (restore-wal,
    // fetch-backup); manifests and markers are parsed. The SDK's CRC32 would be a second pass.
    checkResponseChecksums: false,
  };
}

/** Opens the repository the settings name; the AWS SDK loads only here, and only for s3://. */
export async function openRepository(s: WalmgrSettings): Promise<Storage> {
  const repo = requireRepo(s);
  const { openStorage } = await import('../../storage/index.ts');
  return openStorage(repo, storageOptions(s));
}

/**
 * The repository for whole-object reads only (restore-wal's segments): without the AWS SDK when
 * the credentials are in the environment (layers/storage/index.ts `openGetter`).
 */
export async function openRepositoryGetter(s: WalmgrSettings): Promise<ObjectGetter> {
  const repo = requireRepo(s);
  const { openGetter } = await import('../../storage/index.ts');
  return openGetter(repo, storageOptions(s), s.parallel);
}

/**
 * When the repository marker is checked (repository.ts): `start` before fn runs (backup, restore,
 * listbackups, verify, expire, stream), `write` before the first write (archive: a segment
 * already stored needs no marker), `none` for init itself.
 */
export type MarkerCheck = 'start' | 'write' | 'none';

/** Runs fn with the repository open (and its marker checked) and always closes it. */
export async function withRepository<T>(
  s: WalmgrSettings,
  fn: (storage: Storage) => Promise<T>,
  marker: MarkerCheck = 'start',
): Promise<T> {
  const storage = await openRepository(s);
  try {
    const { checkedBeforeWrite, requireRepository } = await import('../repository.ts');
    if (marker === 'start') await requireRepository(storage);
    return await fn(marker === 'write' ? checkedBeforeWrite(storage) : storage);
  } finally {
    storage.close();
  }
}

/** Quotes a value for /bin/sh (archive_command and restore_command are run by the shell). */
export function shq(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/** The shell fast paths, beside this folder: they answer from the spool without starting Node. */
export const FAST_ARCHIVE = path.resolve(import.meta.dirname, '../archive-fast.sh');
export const FAST_RESTORE = path.resolve(import.meta.dirname, '../restore-fast.sh');

/** The settings a spawned archive / restore-wal uses: what the user gave must reach it. */
const PASSED_ON: Record<'archive' | 'restore', readonly (keyof typeof WALMGR_SETTINGS.specs)[]> = {
  archive: ['endpoint', 'region', 'conditionalPut', 'spool', 'parallel', 'ahead', 'compression', 'timeout'],
  restore: ['endpoint', 'region', 'conditionalPut', 'spool', 'parallel', 'prefetch', 'usePartial', 'timeout'],
};
const S3_ONLY = new Set(['endpoint', 'region', 'conditionalPut']);

/**
 * Flags for the archive_command / restore_command that run later in the server's environment:
 * the repository and every setting the user gave that the command uses (never credentials);
 * S3 settings only for an s3:// repository, so an AWS_REGION in the shell is not baked into a
 * local one. Defaults are left out: the spawned command has the same.
 */
export function repoFlags(s: WalmgrSettings, purpose: 'archive' | 'restore'): string {
  const parts = [`--repo ${shq(s.repo ?? '')}`];
  const s3 = (s.repo ?? '').startsWith('s3://');
  for (const name of PASSED_ON[purpose]) {
    if (!s.given.has(name) || (S3_ONLY.has(name) && !s3)) continue;
    const v = s[name];
    if (v === undefined) continue;
    const flag = WALMGR_SETTINGS.specs[name].flag!.split(' ')[0]!;
    parts.push(`${flag} ${shq(typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v))}`);
  }
  return parts.join(' ');
}

/** `restore_command = '…'` / `archive_command = '…'`: a postgresql.conf string literal. */
export function confString(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}
