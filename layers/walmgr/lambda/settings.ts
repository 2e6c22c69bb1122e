// Settings of walmgr's Lambdas (environment only, set by the WalArchive construct), resolved once
// per container through the shared settings mechanism; a bad value fails the cold start naming
// the variable.
import { resolveSettings, type SettingSpec } from '../../config/settings.ts';
import type { RetentionPolicy } from '../retention.ts';

const SPECS: readonly SettingSpec[] = [
  { key: 'bucket', env: 'WAL_ARCHIVE_BUCKET', type: 'string', doc: 'the archive bucket (wal-expire)' },
  {
    key: 'prefix',
    env: 'WAL_ARCHIVE_PREFIX',
    type: 'string',
    default: '',
    doc: 'repository prefix in the bucket',
  },
  {
    key: 'pending',
    env: 'WAL_VERIFY_PENDING',
    type: 'integer',
    default: '16',
    min: 0,
    doc: 'wal-verify: segments below the newest that may still be in flight before a hole counts',
  },
  {
    key: 'deep',
    env: 'WAL_VERIFY_DEEP',
    type: 'boolean',
    default: 'false',
    doc: 'wal-verify: read and checksum every file of a new backup',
  },
  {
    key: 'keep_last',
    env: 'WAL_RETENTION_KEEP_LAST',
    type: 'integer',
    min: 1,
    doc: 'wal-expire: keep the newest N complete backups',
  },
  {
    key: 'max_age_days',
    env: 'WAL_RETENTION_MAX_AGE_DAYS',
    type: 'string',
    doc: 'wal-expire: keep every backup younger than this many days',
  },
  {
    key: 'dry_run',
    env: 'WAL_RETENTION_DRY_RUN',
    type: 'boolean',
    default: 'false',
    doc: 'wal-expire: report only',
  },
];

export interface WalLambdaSettings {
  bucket?: string;
  /** Without leading or trailing slashes; '' for the bucket's root. */
  prefix: string;
  pending: number;
  deep: boolean;
  policy: RetentionPolicy;
  dryRun: boolean;
}

export function walLambdaSettings(env: NodeJS.ProcessEnv = process.env): WalLambdaSettings {
  // Empty variables count as unset (CloudFormation writes '' for an omitted optional value).
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const { values: v } = resolveSettings(SPECS, { env: set }, 'environment');
  const maxAge = v.max_age_days as string | undefined;
  return {
    ...(v.bucket ? { bucket: v.bucket as string } : {}),
    prefix: (v.prefix as string).replace(/^\/+|\/+$/g, ''),
    pending: v.pending as number,
    deep: v.deep as boolean,
    policy: {
      keepLast: v.keep_last as number | undefined,
      maxAgeDays: maxAge === undefined ? undefined : Number(maxAge),
    },
    dryRun: v.dry_run as boolean,
  };
}
