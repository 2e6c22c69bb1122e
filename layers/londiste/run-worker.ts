// `skytools londiste <ini> worker` and `… copy <table>`: a LondisteWorker configured from the
// [londiste] section, until SIGINT/SIGTERM, with the pidfile held while it runs. The main worker
// starts copy jobs as child processes running `… copy <table>` with the same config file (the
// original's layout: one process per table copy, each its own consumer).
import { connectLocation, getNodeInfo } from '../cascade/node.ts';
import type { Logger } from '../util/log.ts';
import { claimPidfile } from '../util/pidfile.ts';
import { LondisteError } from './errors.ts';
import { ChildProcessLauncher, type CopyLauncher } from './launcher.ts';
import { copyStreamsFor, type LondisteConfig, loadLondisteEnvConfig } from './settings.ts';
import { type NodeConnections, taskConnections } from './task-connect.ts';
import { LondisteWorker, type LondisteWorkerOptions } from './worker.ts';

export interface RunOptions {
  /** Run the copy job of this table instead of the main worker. */
  copyTable?: string;
  /** How to reach the databases (default: the config's db and the locations as they are). */
  connections?: Pick<NodeConnections, 'connectLocal' | 'connectRemote'>;
  /** Worker options on top of the config's (tests). */
  extra?: Partial<LondisteWorkerOptions>;
  /** Watches the main worker once it is built (metrics); stopped when the worker stops. */
  observe?: (worker: LondisteWorker) => WorkerObserver;
}

export interface WorkerObserver {
  stop(): void;
  /** A copy job failed (counted by the launcher). */
  failure?(): void;
}

/**
 * The command a copy job is started with: this same program, with the same config and section
 * (no config file: the same environment, which the child inherits).
 */
export function copyCommand(cfg: LondisteConfig): { command: string; args: string[] } {
  const script = process.argv[1];
  if (!script) throw new Error('cannot tell which program to start copy jobs with');
  const config = cfg.configFile ? [cfg.configFile, 'copy', '--section', cfg.section] : ['copy'];
  return { command: process.execPath, args: [...process.execArgv, script, 'londiste', ...config] };
}

/** The launcher the settings name (`launcher = child | ecs`); the ECS client is loaded only for ecs. */
export async function createCopyLauncher(
  cfg: LondisteConfig,
  log: Logger,
  hooks: { onFailure?: (table: string, reason: string) => void } = {},
): Promise<CopyLauncher> {
  if (cfg.londiste.launcher === 'ecs') {
    const { ecsLauncherFromConfig } = await import('./launcher-ecs.ts');
    return ecsLauncherFromConfig(cfg, log, hooks);
  }
  const cmd = copyCommand(cfg);
  return new ChildProcessLauncher(cmd.command, cmd.args, log, undefined, hooks.onFailure);
}

/**
 * A deployed node's `skytools londiste worker` / `copy <table>`: config from the environment,
 * the databases through the secrets, and a refusal to run on a node of another type than declared.
 */
export async function runLondisteTask(log: Logger, o: RunOptions = {}, env = process.env): Promise<void> {
  const cfg = loadLondisteEnvConfig(env);
  for (const w of cfg.warnings) log.warn(w);
  const connections = taskConnections(cfg.task!);
  const declared = cfg.task?.node_type;
  if (declared) {
    const c = await connections.connectLocal('skytools londiste check');
    try {
      const info = await getNodeInfo(c, cfg.queue);
      if (info.nodeType && info.nodeType !== declared)
        throw new LondisteError(
          'state',
          `${cfg.queue}: node ${info.nodeName} is a ${info.nodeType}, but LONDISTE_NODE_TYPE says ${declared}`,
        );
    } finally {
      await c.end().catch(() => {});
    }
  }
  const periodS = cfg.task?.metrics_period ?? 0;
  const observe =
    periodS > 0
      ? async () => {
          const [{ observability }, { startLondisteMetrics }] = await Promise.all([
            import('../aws/container.ts'),
            import('./metrics.ts'),
          ]);
          return (worker: LondisteWorker) =>
            startLondisteMetrics({
              worker,
              metrics: observability('londiste').metrics,
              queue: cfg.queue,
              node: cfg.nodeName ?? cfg.worker,
              periodMs: periodS * 1000,
            });
        }
      : null;
  await runLondisteUntilSignal(cfg, log, {
    ...o,
    connections,
    observe: observe && !o.copyTable ? await observe() : undefined,
  });
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
  let observer: WorkerObserver | undefined;
  const launcher = o.copyTable
    ? undefined
    : await createCopyLauncher(cfg, log, { onFailure: () => observer?.failure?.() });
  const role = o.copyTable ? `londiste copy ${o.copyTable}` : `londiste ${cfg.worker}`;
  const app = `skytools ${role}`.slice(0, 63);
  const conn = o.connections;
  try {
    const worker = new LondisteWorker({
      queue: cfg.queue,
      worker: cfg.worker,
      copyTable: o.copyTable,
      connectLocal: conn
        ? () => conn.connectLocal(app)
        : () => connectLocation(cfg.db, { applicationName: app }),
      connectRemote: conn ? (location) => conn.connectRemote(location, app) : undefined,
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
      ...o.extra,
    });
    observer = o.copyTable ? undefined : o.observe?.(worker);
    await worker.run();
  } finally {
    observer?.stop();
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    await launcher?.close?.();
    releasePidfile();
  }
}
