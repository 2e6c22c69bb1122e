// `skytools pgqd [config.ini]`: the ticker daemon, config-compatible with the original pgqd.
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseConnstr } from '../../layers/config/connstr.ts';
import { readIni } from '../../layers/config/ini.ts';
import { ConfigError, resolveSettings, type SettingValue } from '../../layers/config/settings.ts';
import { PGQD_SETTINGS, type PgqdConfig, runPgqd } from '../../layers/pgq/pgqd.ts';
import { createLogger, type Logger } from '../../layers/util/log.ts';

interface Flags {
  tickerPeriod?: string;
  databaseList?: string;
  baseConnstr?: string;
  ini?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

export function loadPgqdConfig(
  file: string | undefined,
  flags: Flags,
  log: Logger,
): PgqdConfig & { raw: Record<string, SettingValue> } {
  const sections = file ? readIni(file) : {};
  if (file && !sections.pgqd) throw new ConfigError(`${file}: no [pgqd] section`);
  const { values, warnings } = resolveSettings(
    PGQD_SETTINGS,
    {
      file: sections.pgqd,
      env: process.env,
      flags: {
        ticker_period: flags.tickerPeriod,
        database_list: flags.databaseList,
        base_connstr: flags.baseConnstr,
      },
    },
    file ?? 'pgqd',
  );
  for (const w of warnings) log.warn(w);
  const connstr = (values.base_connstr as string) || process.env.DATABASE_URL || '';
  const base = parseConnstr(connstr);
  // A URL names a database; pgqd's base_connstr does not. Keep the URL's as the initial one.
  let initial = values.initial_database as string;
  if (base.connectionString && !sections.pgqd?.initial_database) {
    const dbInUrl = new URL(base.connectionString).pathname.slice(1);
    if (dbInUrl) initial = decodeURIComponent(dbInUrl);
  }
  return {
    raw: values,
    base,
    initialDatabase: initial,
    databaseList: values.database_list as string[] | undefined,
    tickerPeriodMs: (values.ticker_period as number) * 1000,
    retryPeriodMs: (values.retry_period as number) * 1000,
    maintPeriodMs: (values.maint_period as number) * 1000,
    checkPeriodMs: (values.check_period as number) * 1000,
  };
}

const SAMPLE = `[pgqd]
# libpq connect string (or postgres:// URL) without dbname; default: $DATABASE_URL / PG* variables
#base_connstr = host=/var/run/postgresql
# database used to list the others
#initial_database = template1
# limit the ticker to these databases (default: every database with the pgq schema)
#database_list = db1, db2
# seconds; may be below one (e.g. 0.05 or 50ms), down to 10ms
#ticker_period = 1
#retry_period = 30
#maint_period = 120
#check_period = 60
#logfile = /var/log/skytools/pgqd.log
#pidfile = /run/skytools/pgqd.pid
`;

export function register(program: Command): void {
  program
    .command('pgqd')
    .description('ticker daemon: ticks, retries and maintains PgQ in every database (like the original pgqd)')
    .argument('[config]', 'pgqd .ini file (the original [pgqd] keys are accepted)')
    .option('--ticker-period <seconds>', 'tick period, e.g. 1, 0.1, 20ms')
    .option('--database-list <dbs>', 'comma-separated databases to serve')
    .option('--base-connstr <connstr>', 'libpq connect string or URL without database')
    .option('--ini', 'print a sample config file and exit')
    .option('-v, --verbose', 'log each tick and maintenance step')
    .option('-q, --quiet', 'log only warnings and errors')
    .action(async (file: string | undefined, flags: Flags) => {
      if (flags.ini) {
        process.stdout.write(SAMPLE);
        return;
      }
      let log = createLogger({ level: flags.verbose ? 'debug' : flags.quiet ? 'warn' : 'info' });
      let cfg = loadPgqdConfig(file, flags, log);
      if (cfg.raw.logfile) {
        const logfile = cfg.raw.logfile as string;
        log = createLogger({
          level: flags.verbose ? 'debug' : 'info',
          write: (l) => appendFileSync(logfile, `${l}\n`),
        });
      }
      const pidfile = cfg.raw.pidfile as string | undefined;
      if (pidfile) writeFileSync(pidfile, `${process.pid}\n`);
      const stop = new AbortController();
      let current = new AbortController();
      const onStop = () => {
        log.info('stopping');
        stop.abort();
        current.abort();
      };
      const onReload = () => {
        try {
          cfg = loadPgqdConfig(file, flags, log);
          log.info('config reloaded');
          current.abort();
        } catch (err) {
          log.error('config reload failed; keeping the old config', { error: (err as Error).message });
        }
      };
      process.on('SIGINT', onStop);
      process.on('SIGTERM', onStop);
      process.on('SIGHUP', onReload);
      try {
        while (!stop.signal.aborted) {
          current = new AbortController();
          await runPgqd({
            config: cfg,
            signal: current.signal,
            log,
            onTick: (ev) => log.debug('tick', { database: ev.database, queue: ev.queue, tickId: ev.tickId }),
          });
        }
      } finally {
        process.off('SIGINT', onStop);
        process.off('SIGTERM', onStop);
        process.off('SIGHUP', onReload);
        if (pidfile) rmSync(pidfile, { force: true });
      }
    });
}
