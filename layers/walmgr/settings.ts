// walmgr's settings, declared with the project's one settings mechanism (layers/config/settings.ts):
// the original walmgr's [walmgr] ini keys, environment variables, flags, types, defaults, ranges.
// Precedence: flag > environment > .ini file (--config / WALMGR_CONFIG, section [walmgr], read by
// layers/config/ini.ts) > default. Unknown ini keys are warnings; a bad value is an error naming
// the flag, the variable, or the file and key. Options of a single command (backup's
// --piece-size, …) are specs too, next to the command that uses them (BACKUP_OPTIONS, …).
import path from 'node:path';
import type { Command } from 'commander';
import { readIni } from '../config/ini.ts';
import { defineSettings, type SettingsOf, setting } from '../config/settings.ts';
import { CODECS } from './codec.ts';

export const WALMGR_SETTINGS = defineSettings('walmgr', {
  repo: setting.string({
    ini: 'walmgr_data',
    env: 'WALMGR_REPO',
    flag: '--repo <url>',
    doc: 's3://bucket/prefix or a local directory',
  }),
  pgdata: setting.string({
    ini: 'master_data',
    env: 'PGDATA',
    flag: '--pgdata <dir>',
    doc: 'data directory (default: the current directory, where archive_command runs)',
  }),
  db: setting.string({
    ini: 'master_db',
    env: 'DATABASE_URL',
    flag: '--db <url>',
    doc: 'postgres:// URL for backup and standby control (default: PG* variables)',
  }),
  endpoint: setting.string({
    ini: 's3_endpoint',
    env: 'AWS_ENDPOINT_URL',
    flag: '--endpoint <url>',
    doc: 'S3-compatible endpoint',
  }),
  region: setting.string({ ini: 's3_region', env: 'AWS_REGION', flag: '--region <name>', doc: 'S3 region' }),
  spool: setting.string({
    ini: 'spool_dir',
    env: 'WALMGR_SPOOL',
    flag: '--spool <dir>',
    doc: 'local spool (default PGDATA/pg_wal/skytools_walmgr)',
  }),
  parallel: setting.integer({
    env: 'WALMGR_PARALLEL',
    flag: '--parallel <n>',
    default: 4,
    min: 1,
    max: 64,
    doc: 'concurrent transfers',
  }),
  ahead: setting.integer({
    ini: 'archive_ahead',
    env: 'WALMGR_ARCHIVE_AHEAD',
    flag: '--ahead <n>',
    default: 32,
    min: 0,
    max: 10000,
    doc: 'archive: store up to n further .ready files ahead of the archiver (in a background process)',
  }),
  prefetch: setting.integer({
    env: 'WALMGR_PREFETCH',
    flag: '--prefetch <n>',
    default: 8,
    min: 0,
    max: 1000,
    doc: 'restore-wal: segments fetched ahead',
  }),
  compression: setting.choice(CODECS, {
    env: 'WALMGR_COMPRESSION',
    flag: '--compression <codec>',
    default: 'zstd',
    doc: 'compression of stored WAL and backup files',
  }),
  conditionalPut: setting.boolean({
    ini: 's3_conditional_put',
    env: 'WALMGR_S3_CONDITIONAL_PUT',
    flag: '--s3-conditional-put <on|off>',
    default: true,
    doc: "use If-None-Match on S3 puts; 'off' for endpoints that ignore it (then: check, then put)",
  }),
  usePartial: setting.boolean({
    ini: 'use_partial',
    env: 'WALMGR_USE_PARTIAL',
    flag: '--use-partial [on|off]',
    default: false,
    doc: "restore-wal: serve <segment>.partial (from 'stream') for the last, unarchived segment",
  }),
  progressInterval: setting.seconds({
    env: 'WALMGR_PROGRESS_INTERVAL',
    flag: '--progress-interval <seconds>',
    default: 10,
    min: 0.001,
    max: 3600,
    doc: 'backup, restore, verify: seconds between progress log lines when stderr is not a terminal (a terminal gets one updating line)',
  }),
  timeout: setting.seconds({
    env: 'WALMGR_TIMEOUT',
    flag: '--timeout <seconds>',
    default: 60,
    min: 1,
    max: 3600,
    doc: 'deadline of one storage request; a connection idle for min(timeout, 30) s fails sooner',
  }),
});

type Values = SettingsOf<(typeof WALMGR_SETTINGS)['specs']>;

/** The resolved settings, as every walmgr command receives them. */
export interface WalmgrSettings extends Omit<Values, 'pgdata'> {
  /** Absolute data directory (default: the current directory). */
  pgdata: string;
  /** Whether the data directory was named (restore needs it named; backup asks the server otherwise). */
  pgdataGiven: boolean;
  /** The settings the user gave (flag, environment or file) rather than left at their default. */
  given: ReadonlySet<keyof Values>;
}

/** The walmgr .ini file and its section; the original walmgr's keys are accepted. */
export const CONFIG_FLAG = '--config <file>';
export const CONFIG_ENV = 'WALMGR_CONFIG';
export const CONFIG_SECTION = 'walmgr';

/** Resolves every setting once; throws ConfigError naming the source of a bad value. */
export function loadWalmgrSettings(
  flags: Record<string, unknown> & { config?: string },
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): { values: WalmgrSettings; warnings: string[] } {
  const file = flags.config || env[CONFIG_ENV] || undefined;
  const sections = file ? readIni(file) : {};
  const { values, warnings, origin } = WALMGR_SETTINGS.load({
    ...(file
      ? { file: { path: file, section: CONFIG_SECTION, values: sections[CONFIG_SECTION] ?? {} } }
      : {}),
    env,
    flags,
  });
  if (file && !sections[CONFIG_SECTION])
    warnings.unshift(`${file}: no [${CONFIG_SECTION}] section; nothing read from it`);
  return {
    warnings,
    values: {
      ...values,
      pgdata: path.resolve(cwd, values.pgdata ?? '.'),
      pgdataGiven: origin.pgdata !== undefined,
      given: new Set(
        (Object.keys(origin) as (keyof Values)[]).filter(
          (k) => origin[k] !== undefined && origin[k] !== 'default',
        ),
      ),
    },
  };
}

/** Registers --config and every setting's flag on the `walmgr` command (its subcommands inherit them). */
export function addWalmgrOptions(command: Command): Command {
  command.option(
    CONFIG_FLAG,
    `walmgr .ini file ([${CONFIG_SECTION}] section: walmgr_data, master_data, master_db, compression, …); env ${CONFIG_ENV}`,
  );
  return WALMGR_SETTINGS.addOptions(command);
}

// Options of one command each, read from its flags only.

export const BACKUP_OPTIONS = defineSettings('walmgr backup', {
  type: setting.choice(['full', 'diff', 'incr'] as const, {
    flag: '--type <type>',
    default: 'full',
    doc: 'full; diff: store only files changed since the newest full backup; incr: since the newest backup of any type (unchanged files are referred to, not uploaded)',
  }),
  checksum: setting.boolean({
    flag: '--checksum [on|off]',
    default: false,
    doc: 'diff/incr: trust no mtime; read every file and compare its SHA-256 with the reference (slower, no upload of unchanged files)',
  }),
  primaryDb: setting.string({
    flag: '--primary-db <url>',
    doc: 'when --db is a standby: the primary, for a fresh start point (CHECKPOINT there) and the stop segment archived at once (pg_switch_wal there); without it a standby backup waits for the primary to archive that segment',
  }),
  archiveTimeout: setting.seconds({
    flag: '--archive-timeout <seconds>',
    default: 300,
    min: 0.001,
    doc: "how long to wait for the backup's last WAL segment to be archived into the repository",
  }),
  pieceSize: setting.size({
    flag: '--piece-size <size>',
    min: 64 * 1024,
    max: 1024 ** 3,
    doc: "files larger than this are stored in pieces of this size, backed up and restored in parallel (e.g. 16M, 256k); default 4M, or for diff/incr the reference backup's, so its pieces are reused",
  }),
});

export const STREAM_OPTIONS = defineSettings('walmgr stream', {
  interval: setting.seconds({
    flag: '--interval <seconds>',
    default: 5,
    min: 0.001,
    max: 3600,
    doc: 'seconds between uploads of the partial segment',
  }),
});

export const EXPIRE_OPTIONS = defineSettings('walmgr expire', {
  keepLast: setting.integer({ flag: '--keep-last <n>', min: 1, doc: 'keep the newest N complete backups' }),
  maxAgeDays: setting.number({
    flag: '--max-age-days <days>',
    min: 0.001,
    doc: 'keep every backup that stopped less than this many days ago',
  }),
});

export const CHECK_OPTIONS = defineSettings('walmgr check', {
  archiveTimeout: setting.seconds({
    flag: '--archive-timeout <seconds>',
    default: 60,
    min: 0.001,
    doc: 'how long to wait for the fresh WAL segment to reach the repository',
  }),
  keepLast: EXPIRE_OPTIONS.specs.keepLast,
  maxAgeDays: EXPIRE_OPTIONS.specs.maxAgeDays,
});
