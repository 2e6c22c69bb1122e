// `skytools londiste <ini> worker` and `… copy <table>`: a LondisteWorker configured from the
// [londiste] section, until SIGINT/SIGTERM, with the pidfile held while it runs. The main worker
// starts copy jobs as child processes running `… copy <table>` with the same config file (the
// original's layout: one process per table copy, each its own consumer).
import { connectLocation } from '../cascade/node.ts';
import type { Logger } from '../util/log.ts';
import { claimPidfile } from '../util/pidfile.ts';
import { ChildProcessLauncher } from './launcher.ts';
import { copyStreamsFor, type LondisteConfig } from './settings.ts';
import { LondisteWorker } from './worker.ts';

export interface RunOptions {
  /** Run the copy job of this table instead of the main worker. */
  copyTable?: string;
}

/** The command a copy job is started with: this same program, with the same config and section. */
export function copyCommand(cfg: LondisteConfig): { command: string; args: string[] } {
  const script = process.argv[1];
  if (!script) throw new Error('cannot tell which program to start copy jobs with');
  return {
    command: process.execPath,
    args: [...process.execArgv, script, 'londiste', cfg.configFile, 'copy', '--section', cfg.section],
  };
}

export async function runLondisteUntilSignal(
  cfg: LondisteConfig,
  log: Logger,
  o: RunOptions = {},
): Promise<void> {
  // As the original: the copy job's pidfile is the worker's with `.copy.<table>` appended.
  const pidfile = cfg.pidfile && (o.copyTable ? `${cfg.pidfile}.copy.${o.copyTable}` : cfg.pidfile);
  const releasePidfile = pidfile ? claimPidfile(pidfile) : () => {};
  const stop = new AbortController();
  const onStop = () => {
    log.info('stopping');
    stop.abort();
  };
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  const cmd = o.copyTable ? null : copyCommand(cfg);
  const launcher = cmd ? new ChildProcessLauncher(cmd.command, cmd.args, log) : undefined;
  const role = o.copyTable ? `londiste copy ${o.copyTable}` : `londiste ${cfg.worker}`;
  try {
    await new LondisteWorker({
      queue: cfg.queue,
      worker: cfg.worker,
      copyTable: o.copyTable,
      connectLocal: () => connectLocation(cfg.db, { applicationName: `skytools ${role}`.slice(0, 63) }),
      loopDelayMs: cfg.loopDelayMs,
      localWmPublishPeriodMs: cfg.localWmPublishPeriodMs,
      globalWmPublishPeriodMs: cfg.globalWmPublishPeriodMs,
      parallelCopies: cfg.parallelCopies,
      ...(o.copyTable
        ? { copyStreams: copyStreamsFor(cfg, o.copyTable), copyMinRowsPerStream: cfg.copyMinRowsPerStream }
        : {}),
      localOnly: cfg.localOnly,
      localOnlyDropExecute: cfg.localOnlyDropExecute,
      tableFilter: cfg.tableFilter,
      launcher,
      signal: stop.signal,
      log,
    }).run();
  } finally {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    await launcher?.close();
    releasePidfile();
  }
}
