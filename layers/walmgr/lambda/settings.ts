// Settings of walmgr's Lambdas (environment only, set by the WalArchive construct), declared with
// the one settings mechanism and resolved once per container; a bad value fails the cold start
// naming the variable.
import { defineSettings, setting } from '../../config/settings.ts';
import type { RetentionPolicy } from '../retention.ts';

export const WAL_VERIFY_SETTINGS = defineSettings('wal-verify', {
  prefix: setting.string({ env: 'WAL_ARCHIVE_PREFIX', default: '', doc: 'repository prefix in the bucket' }),
  pending: setting.integer({
    env: 'WAL_VERIFY_PENDING',
    default: 16,
    min: 0,
    doc: 'segments below the newest that may still be in flight before a hole counts',
  }),
  deep: setting.boolean({
    env: 'WAL_VERIFY_DEEP',
    default: false,
    doc: 'read and checksum every file of a new backup',
  }),
});

export const WAL_EXPIRE_SETTINGS = defineSettings('wal-expire', {
  bucket: setting.string({ env: 'WAL_ARCHIVE_BUCKET', doc: 'the archive bucket' }),
  prefix: setting.string({ env: 'WAL_ARCHIVE_PREFIX', default: '', doc: 'repository prefix in the bucket' }),
  keepLast: setting.integer({
    env: 'WAL_RETENTION_KEEP_LAST',
    min: 1,
    doc: 'keep the newest N complete backups',
  }),
  maxAgeDays: setting.number({
    env: 'WAL_RETENTION_MAX_AGE_DAYS',
    min: 0.001,
    doc: 'keep every backup younger than this many days (at least one of the two policies)',
  }),
  dryRun: setting.boolean({
    env: 'WAL_RETENTION_DRY_RUN',
    default: false,
    doc: 'report only, delete nothing',
  }),
});

const cleanPrefix = (p: string) => p.replace(/^\/+|\/+$/g, '');

export interface WalVerifySettings {
  /** Without leading or trailing slashes; '' for the bucket's root. */
  prefix: string;
  pending: number;
  deep: boolean;
}

export function walVerifySettings(env: NodeJS.ProcessEnv = process.env): WalVerifySettings {
  const v = WAL_VERIFY_SETTINGS.load({ env }).values;
  return { ...v, prefix: cleanPrefix(v.prefix) };
}

export interface WalExpireSettings {
  bucket?: string;
  prefix: string;
  policy: RetentionPolicy;
  dryRun: boolean;
}

export function walExpireSettings(env: NodeJS.ProcessEnv = process.env): WalExpireSettings {
  const v = WAL_EXPIRE_SETTINGS.load({ env }).values;
  return {
    ...(v.bucket ? { bucket: v.bucket } : {}),
    prefix: cleanPrefix(v.prefix),
    policy: { keepLast: v.keepLast, maxAgeDays: v.maxAgeDays },
    dryRun: v.dryRun,
  };
}
