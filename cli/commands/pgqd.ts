// `skytools pgqd [config.ini]`: the ticker daemon, config-compatible with the original pgqd.
import { appendFileSync } from 'node:fs';
import type { Command } from 'commander';
import { runPgqd } from '../../layers/pgq/pgqd.ts';
import { loadPgqdConfig, PGQD_SETTINGS } from '../../layers/pgq/settings.ts';
import { commandLogLevel, createLogger } from '../../layers/util/log.ts';
import { claimPidfile } from '../../layers/util/pidfile.ts';

interface Flags {
  ini?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  const pgqd = program
    .command('pgqd')
    .description('ticker daemon: ticks, retries and maintains PgQ in every database (like the original pgqd)')
    .argument('[config]', 'pgqd .ini file (the original [pgqd] keys are accepted)');
  PGQD_SETTINGS.addOptions(pgqd);
  pgqd
    .option('--ini', 'print a sample config file and exit')
    .option('-v, --verbose', 'log each tick and maintenance step')
    .option('-q, --quiet', 'log only warnings and errors')
    .action(async (file: string | undefined, flags: Flags) => {
      if (flags.ini) {
        process.stdout.write(PGQD_SETTINGS.sampleIni());
        return;
      }
      // -v / -q apply to the log wherever it goes, stderr or the ini's logfile.
      const level = commandLogLevel(flags);
      let log = createLogger({ level });
      let cfg = loadPgqdConfig(file, flags as Record<string, unknown>, (w) => log.warn(w));
      const { logfile, pidfile } = cfg.settings;
      if (logfile) log = createLogger({ level, write: (l) => appendFileSync(logfile, `${l}\n`) });
      const releasePidfile = pidfile ? claimPidfile(pidfile) : () => {};
      const stop = new AbortController();
      let current = new AbortController();
      const onStop = () => {
        log.info('stopping');
        stop.abort();
        current.abort();
      };
      const onReload = () => {
        try {
          cfg = loadPgqdConfig(file, flags as Record<string, unknown>, (w) => log.warn(w));
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
        releasePidfile();
      }
    });
}
