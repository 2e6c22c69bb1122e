// Copy jobs as ECS tasks (the deployed form of the original's one process per table copy): RunTask
// of the node's copy task definition in awsvpc mode, with the container's command overridden to
// `londiste copy <table>` and startedBy naming the node and table, so that this launcher — or the
// next worker after a restart — finds the table's task with ListTasks. A task keeps running when
// the worker stops (a copy may take hours; a deployment of the worker must not restart it).
//
// The worker decides when a copy must run (table state, its node lock in pg_locks); this launcher
// answers "is a task for it pending or running" (a task holds no lock while it is provisioned) and
// keeps a failing copy from being relaunched in a tight loop: a task that STOPPED with a non-zero
// exit code, that failed to start, or a RunTask that returned failures counts as a failure of the
// table, and the next launch waits base × 2^(failures-1), up to the cap. While a table waits out
// its backoff, isRunning says yes (its next attempt is on its way), so the worker neither asks to
// relaunch it nor logs that it would every few seconds: one warning per failed attempt, naming
// when the next one is due, and the worker's "relaunching" once when it is.
import { createHash } from 'node:crypto';
import {
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { ConfigError } from '../config/settings.ts';
import { type Logger, silentLogger } from '../util/log.ts';
import type { CopyLauncher } from './launcher.ts';
import type { LondisteConfig } from './settings.ts';

export interface EcsLauncherOptions {
  cluster: string;
  taskDefinition: string;
  /** The task definition's container that runs the copy. */
  container: string;
  subnets: readonly string[];
  securityGroups: readonly string[];
  /** The node's name: with the table, the tasks' startedBy. */
  node: string;
  /** At most this many copy tasks of this node at once (parallel_copies). */
  maxRunning: number;
  /** The container command for a table (default `londiste copy <table>`; the image's entry point is `skytools`). */
  command?: (table: string) => string[];
  assignPublicIp?: boolean;
  client?: ECSClient;
  log?: Logger;
  /** How long a ListTasks answer is trusted (default 10 s: the worker asks before every batch). */
  pollMs?: number;
  /** First wait after a failure (default 15 s), doubled per further failure up to maxBackoffMs (10 min). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Called on every copy failure (for the CopyTaskFailures metric). */
  onFailure?: (table: string, reason: string) => void;
  now?: () => number;
}

export interface EcsLauncherStats {
  launched: number;
  failures: number;
}

interface TableTasks {
  /** Tasks of this table we know of (launched here or found by ListTasks) not yet seen stopped. */
  arns: Set<string>;
  running: boolean;
  checkedAt: number;
  failures: number;
  notBefore: number;
}

/** startedBy for a node's table: readable, within ECS's 128 characters of [A-Za-z0-9_/-], unique by a hash. */
export function startedByFor(node: string, table: string): string {
  const readable = `${node}/${table}`.replace(/[^A-Za-z0-9_/-]/g, '_').slice(0, 110);
  const hash = createHash('sha256').update(`${node}\0${table}`).digest('hex').slice(0, 12);
  return `${readable}-${hash}`;
}

export class EcsLauncher implements CopyLauncher {
  readonly stats: EcsLauncherStats = { launched: 0, failures: 0 };
  readonly #o: EcsLauncherOptions;
  readonly #client: ECSClient;
  readonly #log: Logger;
  readonly #tables = new Map<string, TableTasks>();

  constructor(o: EcsLauncherOptions) {
    this.#o = o;
    this.#client = o.client ?? new ECSClient({});
    this.#log = o.log ?? silentLogger;
  }

  #now() {
    return this.#o.now?.() ?? Date.now();
  }

  #state(table: string): TableTasks {
    let s = this.#tables.get(table);
    if (!s) {
      s = { arns: new Set(), running: false, checkedAt: 0, failures: 0, notBefore: 0 };
      this.#tables.set(table, s);
    }
    return s;
  }

  /** Copy tasks of this node believed pending or running. */
  get running(): number {
    let n = 0;
    for (const s of this.#tables.values()) if (s.running) n++;
    return n;
  }

  /** Pending or running, or waiting out its backoff before the next attempt. */
  async isRunning(table: string): Promise<boolean> {
    const s = this.#state(table);
    if (this.#now() - s.checkedAt >= (this.#o.pollMs ?? 10_000)) await this.#refresh(table, s);
    return s.running || this.#now() < s.notBefore;
  }

  async launch(table: string): Promise<void> {
    const s = this.#state(table);
    await this.#refresh(table, s);
    if (s.running) return;
    const now = this.#now();
    if (now < s.notBefore) {
      // Said once at the failure (with the time of the next attempt); the worker does not ask
      // while isRunning says the attempt is on its way.
      this.#log.debug('copy task relaunch deferred (backoff after failures)', {
        table,
        failures: s.failures,
        inMs: s.notBefore - now,
      });
      return;
    }
    for (const [other, st] of this.#tables) {
      if (other !== table && st.running && this.#now() - st.checkedAt >= (this.#o.pollMs ?? 10_000))
        await this.#refresh(other, st);
    }
    if (this.running >= this.#o.maxRunning) {
      this.#log.info('copy task deferred: parallel_copies tasks are running', {
        table,
        running: this.running,
      });
      return;
    }
    const o = this.#o;
    let tasks: Task[] = [];
    let reason = '';
    try {
      const out = await this.#client.send(
        new RunTaskCommand({
          cluster: o.cluster,
          taskDefinition: o.taskDefinition,
          launchType: 'FARGATE',
          count: 1,
          startedBy: startedByFor(o.node, table),
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets: [...o.subnets],
              securityGroups: [...o.securityGroups],
              assignPublicIp: o.assignPublicIp ? 'ENABLED' : 'DISABLED',
            },
          },
          overrides: {
            containerOverrides: [{ name: o.container, command: (o.command ?? defaultCommand)(table) }],
          },
          tags: [
            { key: 'skytools:node', value: o.node },
            { key: 'skytools:table', value: table },
          ],
          propagateTags: 'TASK_DEFINITION',
        }),
      );
      tasks = out.tasks ?? [];
      reason = (out.failures ?? []).map((f) => [f.reason, f.detail].filter(Boolean).join(': ')).join('; ');
    } catch (err) {
      reason = `${(err as Error).name}: ${(err as Error).message}`;
    }
    const arn = tasks[0]?.taskArn;
    if (!arn) {
      this.#failed(table, s, `RunTask failed: ${reason || 'no task started'}`);
      return;
    }
    s.arns.add(arn);
    s.running = true;
    s.checkedAt = this.#now();
    this.stats.launched++;
    this.#log.info('copy task started', { table, taskArn: arn, attempt: s.failures + 1 });
  }

  /** Tasks keep running: a restarted worker finds them again by startedBy. */
  async close(): Promise<void> {}

  #failed(table: string, s: TableTasks, reason: string) {
    s.failures++;
    this.stats.failures++;
    const base = this.#o.backoffMs ?? 15_000;
    const wait = Math.min(this.#o.maxBackoffMs ?? 600_000, base * 2 ** (s.failures - 1));
    s.notBefore = this.#now() + wait;
    this.#log.warn('copy task failed; relaunching after a backoff', {
      table,
      failures: s.failures,
      backoffMs: wait,
      nextAttemptAt: new Date(s.notBefore).toISOString(),
      reason,
    });
    this.#o.onFailure?.(table, reason);
  }

  /** Which tasks of the table are pending or running (ListTasks), and how the ones that ended, ended. */
  async #refresh(table: string, s: TableTasks) {
    const o = this.#o;
    const listed = new Set<string>();
    let nextToken: string | undefined;
    do {
      const out = await this.#client.send(
        new ListTasksCommand({
          cluster: o.cluster,
          startedBy: startedByFor(o.node, table),
          desiredStatus: 'RUNNING',
          nextToken,
        }),
      );
      for (const a of out.taskArns ?? []) listed.add(a);
      nextToken = out.nextToken;
    } while (nextToken);
    const gone = [...s.arns].filter((a) => !listed.has(a));
    if (gone.length) {
      const out = await this.#client.send(new DescribeTasksCommand({ cluster: o.cluster, tasks: gone }));
      for (const t of out.tasks ?? []) {
        if (t.lastStatus !== 'STOPPED' && t.desiredStatus !== 'STOPPED') {
          listed.add(t.taskArn!); // between ListTasks and DescribeTasks: still on its way
          continue;
        }
        const c = t.containers?.find((x) => x.name === o.container) ?? t.containers?.[0];
        const ok = c?.exitCode === 0;
        if (ok) {
          s.failures = 0;
          s.notBefore = 0;
          this.#log.info('copy task finished', { table, taskArn: t.taskArn });
        } else {
          const why = [
            c?.exitCode == null ? 'no exit code' : `exit code ${c.exitCode}`,
            t.stopCode,
            t.stoppedReason,
            c?.reason,
          ]
            .filter(Boolean)
            .join(', ');
          this.#failed(table, s, `task ${t.taskArn} stopped: ${why}`);
        }
      }
      // A task ECS no longer knows (long gone) is simply forgotten.
    }
    s.arns = listed;
    s.running = listed.size > 0;
    s.checkedAt = this.#now();
  }
}

function defaultCommand(table: string): string[] {
  return ['londiste', 'copy', table];
}

/** The launcher of `launcher = ecs`, from the copy_* settings (LONDISTE_COPY_* in a task). */
export function ecsLauncherFromConfig(
  cfg: LondisteConfig,
  log: Logger,
  o: { client?: ECSClient; onFailure?: (table: string, reason: string) => void } = {},
): EcsLauncher {
  const v = cfg.londiste;
  const missing = [
    !v.copy_cluster && 'copy_cluster (LONDISTE_COPY_CLUSTER)',
    !v.copy_task_definition && 'copy_task_definition (LONDISTE_COPY_TASK_DEFINITION)',
    !v.copy_container && 'copy_container (LONDISTE_COPY_CONTAINER)',
    !v.copy_subnets?.length && 'copy_subnets (LONDISTE_COPY_SUBNETS)',
  ].filter(Boolean);
  if (missing.length)
    throw new ConfigError(`launcher = ecs needs ${missing.join(', ')}`, { kind: 'missing' });
  return new EcsLauncher({
    cluster: v.copy_cluster!,
    taskDefinition: v.copy_task_definition!,
    container: v.copy_container!,
    subnets: v.copy_subnets!,
    securityGroups: v.copy_security_groups ?? [],
    node: cfg.nodeName ?? cfg.worker,
    maxRunning: cfg.parallelCopies,
    client: o.client,
    onFailure: o.onFailure,
    log,
  });
}
