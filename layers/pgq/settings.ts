// The settings of pgqd (the [pgqd] section: the original pgqd's keys plus ours) and the loader that
// turns them into the daemon's config.

import { readIni } from '../config/ini.ts';
import { ConfigError, defineSettings, type SettingsOf, setting } from '../config/settings.ts';
import { parseConnstr } from '../db/connstr.ts';
import type { PgqdConfig } from './pgqd.ts';

export const PGQD_SETTINGS = defineSettings('pgqd', {
  base_connstr: setting.string({
    env: 'PGQD_BASE_CONNSTR',
    flag: '--base-connstr <connstr>',
    doc: 'libpq connect string or postgres:// URL, without dbname (default: $DATABASE_URL / PG* variables)',
  }),
  initial_database: setting.string({
    default: 'template1',
    doc: 'database used to list the other databases',
  }),
  database_list: setting.list({
    env: 'PGQD_DATABASE_LIST',
    flag: '--database-list <dbs>',
    doc: 'databases to tick, comma-separated (default: every database with the pgq schema)',
  }),
  ticker_period: setting.seconds({
    env: 'PGQD_TICKER_PERIOD',
    flag: '--ticker-period <seconds>',
    default: 1,
    min: 0.01,
    doc: "how often to run the ticker over every queue (PgQ's rules: ticker_max_lag, ticker_max_count, idle ticks), e.g. 1, 0.1, 20ms",
  }),
  poll_period: setting.seconds({
    env: 'PGQD_POLL_PERIOD',
    flag: '--poll-period <seconds>',
    default: '5ms',
    min: 0,
    doc: 'how often to look for committed events on queues that do not batch (ticker_max_lag / ticker_max_count never set) and tick them at once; 0: off, only ticker_period (our SQL only: the C extension has no such look)',
  }),
  retry_period: setting.seconds({
    env: 'PGQD_RETRY_PERIOD',
    default: 30,
    min: 0.01,
    doc: 'how often to move due retry events back into their queues',
  }),
  maint_period: setting.seconds({
    env: 'PGQD_MAINT_PERIOD',
    default: 120,
    min: 0.01,
    doc: 'how often to run maintenance (rotation, vacuum)',
  }),
  check_period: setting.seconds({
    env: 'PGQD_CHECK_PERIOD',
    default: 60,
    min: 0.1,
    doc: 'how often to look for new or dropped databases',
  }),
  logfile: setting.string({ doc: 'append the log to this file (default: stderr)' }),
  pidfile: setting.string({ doc: 'write the process id here while running' }),
  syslog: setting.string({
    doc: '',
    ignored: 'logs go to stderr/logfile; use your service manager for syslog',
  }),
  syslog_ident: setting.string({ doc: '', ignored: 'see syslog' }),
});

export type PgqdSettings = SettingsOf<typeof PGQD_SETTINGS.specs>;

/**
 * Reads pgqd's settings from its .ini file (optional), the environment and the command-line flags
 * (commander's options), and builds the daemon's config. Warnings (unknown keys) go to `warn`.
 */
export function loadPgqdConfig(
  file: string | undefined,
  flags: Record<string, unknown>,
  warn: (msg: string) => void,
): PgqdConfig & { settings: PgqdSettings } {
  const sections = file ? readIni(file) : {};
  if (file && !sections.pgqd) throw new ConfigError(`${file}: no [pgqd] section`);
  const { values, warnings, origin } = PGQD_SETTINGS.load({
    ...(file ? { file: { path: file, section: 'pgqd', values: sections.pgqd ?? {} } } : {}),
    env: process.env,
    flags,
  });
  for (const w of warnings) warn(w);
  const base = parseConnstr(values.base_connstr || process.env.DATABASE_URL || '');
  // A URL names a database; pgqd's base_connstr does not. Keep the URL's as the initial one.
  let initial = values.initial_database;
  if (base.connectionString && origin.initial_database === 'default') {
    const dbInUrl = new URL(base.connectionString).pathname.slice(1);
    if (dbInUrl) initial = decodeURIComponent(dbInUrl);
  }
  return {
    settings: values,
    base,
    initialDatabase: initial,
    databaseList: values.database_list,
    tickerPeriodMs: values.ticker_period * 1000,
    pollPeriodMs: values.poll_period * 1000,
    retryPeriodMs: values.retry_period * 1000,
    maintPeriodMs: values.maint_period * 1000,
    checkPeriodMs: values.check_period * 1000,
  };
}
