// `skytools setadm <config.ini> <command>` (alias `skytools cascade`): cascaded queue admin and
// worker, like the original setadm / CascadeAdmin + CascadedWorker.
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CascadeAdmin, formatStatus } from '../../layers/cascade/admin.ts';
import { CascadeError, connectLocation, type NodeType } from '../../layers/cascade/node.ts';
import { type CascadeConfig, loadCascadeConfig } from '../../layers/cascade/settings.ts';
import { CascadeWorker } from '../../layers/cascade/worker.ts';
import { createLogger, type Logger } from '../../layers/util/log.ts';

interface Flags {
  provider?: string;
  node?: string;
  consumer?: string;
  worker?: string;
  dead?: string[];
  deadRoot?: boolean;
  deadBranch?: boolean;
  all?: boolean;
  syncWatermark?: string;
  nocheck?: boolean;
  json?: boolean;
  dumpFile?: string;
  timeout?: string;
  section?: string;
  verbose?: boolean;
  quiet?: boolean;
}

const USAGE = `
Node initialization:
  create-root   [NAME [PUBLIC_CONNSTR]]
  create-branch [NAME [PUBLIC_CONNSTR]] --provider=<connstr>
  create-leaf   [NAME [PUBLIC_CONNSTR]] --provider=<connstr>
Node administration:
  worker                run this node's cascade worker (until SIGINT/SIGTERM)
  status                tree of the cascade with lag per node (--json)
  members               member nodes with their locations (--json)
  pause | resume        [--node=NODE] [--consumer=NAME]   (default: the local node's worker)
Cascade layout:
  change-provider --provider=NODE [--node=NODE]
  takeover OLD_NODE [--all] [--dead-root | --dead-branch] [--dead=NODE ...]
  resurrect             bring a failed-over old root back as a branch (run on the old root)
  drop-node NAME
  tag-dead NODE ... | tag-alive NODE ...
`;

export function register(program: Command): void {
  program
    .command('setadm')
    .alias('cascade')
    .description('cascaded queue (pgq_node) admin and worker, like the original setadm')
    .argument('<config>', 'job .ini with job_name, queue_name, db, node_name, …')
    .argument('<command>', 'see below')
    .argument('[args...]', 'command arguments')
    .option(
      '--provider <connstr|node>',
      'create-*: provider connect string; change-provider: new provider node',
    )
    .option('--node <name>', 'node to operate on')
    .option('--consumer <name>', 'consumer to operate on')
    .option('--worker <name>', 'create-*: worker name (default: job_name)')
    .option('--dead <node>', 'treat NODE as dead (repeatable)', (v: string, acc: string[] = []) => [
      ...acc,
      v,
    ])
    .option('--dead-root', 'takeover: the old node is a dead root (failover)')
    .option('--dead-branch', 'takeover: the old node is a dead branch (failover)')
    .option('--all', 'takeover: move all subscribers of the old node too')
    .option('--sync-watermark <nodes>', 'create-branch: nodes to sync the watermark with')
    .option('--nocheck', 'create-*: accepted for compatibility (no public connect string check)')
    .option('--json', 'status/members: print JSON')
    .option('--dump-file <file>', 'resurrect: where to write lost events', 'resurrect-lost-events.json')
    .option('--timeout <seconds>', 'how long to wait for workers (pause, catch-up)', '600')
    .option('--section <name>', 'ini section of the job (default: [setadm], [cascade] or the first one)')
    .option('-v, --verbose', 'debug logging')
    .option('-q, --quiet', 'warnings and errors only')
    .addHelpText('after', USAGE)
    .action(async (file: string, cmd: string, args: string[], flags: Flags) => {
      const cfg = loadCascadeConfig(file, flags.section);
      let log = createLogger({ level: flags.verbose ? 'debug' : flags.quiet ? 'warn' : 'info' });
      if (cfg.logfile) {
        const lf = cfg.logfile;
        log = createLogger({
          level: flags.verbose ? 'debug' : 'info',
          write: (l) => appendFileSync(lf, `${l}\n`),
        });
      }
      for (const w of cfg.warnings) log.warn(w);
      if (cmd === 'worker') return runWorker(cfg, log);
      const admin = new CascadeAdmin({
        queue: cfg.queue,
        localLocation: cfg.db,
        assumeDead: flags.dead,
        log,
        waitTimeoutMs: Number(flags.timeout ?? 600) * 1000,
      });
      // Errors go to the one printer and exit policy (cli/main.ts → layers/errors/exit.ts).
      try {
        await dispatch(admin, cfg, cmd, args, flags);
      } finally {
        await admin.close();
      }
    });
}

async function dispatch(admin: CascadeAdmin, cfg: CascadeConfig, cmd: string, args: string[], flags: Flags) {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  switch (cmd) {
    case 'create-root':
    case 'create-branch':
    case 'create-leaf': {
      if (args.length > 2)
        throw new CascadeError('usage', 'too many arguments: only NAME and PUBLIC_CONNSTR');
      const type = cmd.slice('create-'.length) as NodeType;
      out(
        await admin.createNode(type, {
          nodeName: args[0] ?? cfg.nodeName ?? '',
          location: args[1] ?? cfg.publicLocation ?? cfg.db,
          worker: flags.worker ?? cfg.worker,
          provider: flags.provider ?? cfg.initialProvider,
          syncWatermark: flags.syncWatermark,
        }),
      );
      return;
    }
    case 'members': {
      const ms = await admin.members();
      if (flags.json) out(JSON.stringify(ms, null, 2));
      else {
        out(`Member info on queue ${cfg.queue}:`);
        out(`${'node_name'.padEnd(20)} ${'dead'.padEnd(5)} node_location`);
        for (const m of ms) out(`${m.name.padEnd(20)} ${String(m.dead).padEnd(5)} ${m.location}`);
      }
      return;
    }
    case 'status': {
      const st = await admin.status();
      out(
        flags.json
          ? JSON.stringify(st, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2)
          : formatStatus(st, cfg.queue),
      );
      return;
    }
    case 'pause':
      return admin.pause(flags.node ?? args[0], flags.consumer ?? args[1]);
    case 'resume':
      return admin.resume(flags.node ?? args[0], flags.consumer ?? args[1]);
    case 'change-provider':
      return admin.changeProvider(flags.provider ?? '', flags.node, flags.consumer);
    case 'takeover':
      if (!args[0]) throw new CascadeError('usage', 'takeover needs the old node: takeover OLD_NODE');
      return admin.takeover(args[0], {
        newNode: flags.node,
        deadRoot: flags.deadRoot,
        deadBranch: flags.deadBranch,
        all: flags.all,
      });
    case 'resurrect': {
      const r = await admin.resurrect({ dumpFile: flags.dumpFile });
      out(
        `resurrected at tick ${r.failoverTick}: ${r.dumped} lost events dumped, ${r.deleted} deleted; worker paused`,
      );
      return;
    }
    case 'drop-node':
      if (!args[0]) throw new CascadeError('usage', 'drop-node needs the node name');
      return admin.dropNode(args[0]);
    case 'tag-dead':
    case 'tag-alive':
      if (args.length === 0) throw new CascadeError('usage', `${cmd} needs node names`);
      return admin.tagDead(args, cmd === 'tag-dead');
    default:
      throw new CascadeError('usage', `unknown command "${cmd}"; see skytools setadm --help`);
  }
}

async function runWorker(cfg: CascadeConfig, log: Logger) {
  if (cfg.pidfile) writeFileSync(cfg.pidfile, `${process.pid}\n`);
  const stop = new AbortController();
  const onStop = () => {
    log.info('stopping');
    stop.abort();
  };
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  try {
    await new CascadeWorker({
      queue: cfg.queue,
      worker: cfg.worker,
      connectLocal: () => connectLocation(cfg.db, { applicationName: `skytools cascade ${cfg.worker}` }),
      loopDelayMs: cfg.loopDelayMs,
      localWmPublishPeriodMs: cfg.localWmPublishPeriodMs,
      globalWmPublishPeriodMs: cfg.globalWmPublishPeriodMs,
      signal: stop.signal,
      log,
    }).run();
  } finally {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    if (cfg.pidfile) rmSync(cfg.pidfile, { force: true });
  }
}
