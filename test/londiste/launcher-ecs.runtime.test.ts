// EcsLauncher against a local stand-in of the ECS API (JSON protocol over HTTP, the SDK pointed at
// it with `endpoint`): the RunTask requests it sends, one task per table at a time, parallel_copies,
// a task that STOPPED with exit code 1 or a RunTask answered with failures counted and relaunched
// after a backoff — and a real worker whose first copy task dies relaunches it and the table
// reaches ok.
import { ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LondisteAdmin } from '../../layers/londiste/admin.ts';
import { EcsLauncher, type EcsLauncherOptions, startedByFor } from '../../layers/londiste/launcher-ecs.ts';
import { LondisteWorker } from '../../layers/londiste/worker.ts';
import { createLogger, type Logger } from '../../layers/util/log.ts';
import { type AwsJsonServer, startAwsJsonServer } from '../support/aws-json.ts';
import { EcsStandIn, type FakeTask } from './ecs-standin.ts';
import { useLondisteSet, waitUntil } from './replication.ts';

let aws: AwsJsonServer;
let ecs: EcsStandIn;
let client: ECSClient;

beforeAll(async () => {
  ecs = new EcsStandIn();
  aws = await startAwsJsonServer(ecs.handlers());
  client = new ECSClient({
    endpoint: aws.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});
afterAll(async () => {
  client?.destroy();
  await aws?.close();
});

function reset() {
  ecs.tasks.length = 0;
  aws.calls.length = 0;
  ecs.runTask = () => ({ task: () => {} });
}

function recordingLog(lines: { level: string; msg: string; fields: Record<string, unknown> }[]): Logger {
  return createLogger({
    json: true,
    level: 'debug',
    write: (l) => {
      const { level, msg, time: _t, ...fields } = JSON.parse(l);
      lines.push({ level, msg, fields });
    },
  });
}

function launcher(o: Partial<EcsLauncherOptions> = {}) {
  let now = 1_000_000;
  const failures: string[] = [];
  const l = new EcsLauncher({
    cluster: 'skytools',
    taskDefinition: 'leaf-copy:7',
    container: 'londiste',
    subnets: ['subnet-a'],
    securityGroups: ['sg-1', 'sg-2'],
    node: 'leaf',
    maxRunning: 2,
    client,
    pollMs: 0,
    backoffMs: 1000,
    maxBackoffMs: 4000,
    now: () => now,
    onFailure: (table, reason) => failures.push(`${table}: ${reason}`),
    ...o,
  });
  return { l, failures, advance: (ms: number) => (now += ms) };
}

const runTasks = () => aws.calls.filter((c) => c.operation === 'RunTask');

describe('EcsLauncher', () => {
  it('starts one Fargate task per table with the copy command, network and startedBy, and no second while it runs', async () => {
    reset();
    const { l } = launcher();
    await l.launch('public.orders');
    expect(runTasks()).toHaveLength(1);
    expect(runTasks()[0]!.body).toEqual({
      clientToken: expect.any(String),
      cluster: 'skytools',
      taskDefinition: 'leaf-copy:7',
      launchType: 'FARGATE',
      count: 1,
      startedBy: startedByFor('leaf', 'public.orders'),
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-a'],
          securityGroups: ['sg-1', 'sg-2'],
          assignPublicIp: 'DISABLED',
        },
      },
      overrides: {
        containerOverrides: [{ name: 'londiste', command: ['londiste', 'copy', 'public.orders'] }],
      },
      tags: [
        { key: 'skytools:node', value: 'leaf' },
        { key: 'skytools:table', value: 'public.orders' },
      ],
      propagateTags: 'TASK_DEFINITION',
    });
    // Provisioning holds no node lock yet: the launcher says it is on its way, and does not start another.
    expect(await l.isRunning('public.orders')).toBe(true);
    await l.launch('public.orders');
    expect(runTasks()).toHaveLength(1);
    // A later worker (restart) finds the task by startedBy.
    const { l: again } = launcher();
    expect(await again.isRunning('public.orders')).toBe(true);
    expect(await again.isRunning('public.other')).toBe(false);
    ecs.stop(ecs.tasks[0]!, 0);
    expect(await l.isRunning('public.orders')).toBe(false);
    expect(l.stats).toEqual({ launched: 1, failures: 0 });
  });

  it('startedBy stays within ECS limits and tells tables apart', () => {
    const a = startedByFor('leaf', 'public.a_b');
    const b = startedByFor('leaf', 'public_a.b');
    expect(a).not.toBe(b);
    for (const s of [a, b, startedByFor('n'.repeat(80), `s.${'t'.repeat(200)}`)]) {
      expect(s).toMatch(/^[A-Za-z0-9_/-]{1,128}$/);
    }
  });

  it('counts a task that stopped with exit code 1 and relaunches it after a doubling backoff', async () => {
    reset();
    const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const { l, failures, advance } = launcher({ log: recordingLog(lines) });
    await l.launch('public.orders');
    ecs.stop(ecs.tasks[0]!, 1);
    // Waiting out its backoff counts as on its way: the worker does not ask again until then.
    expect(await l.isRunning('public.orders')).toBe(true);
    expect(l.stats.failures).toBe(1);
    expect(failures).toEqual([
      expect.stringMatching(/^public\.orders: task .* stopped: exit code 1, EssentialContainerExited/),
    ]);
    expect(lines.find((x) => x.level === 'warn')).toMatchObject({
      msg: 'copy task failed; relaunching after a backoff',
      fields: {
        table: 'public.orders',
        failures: 1,
        backoffMs: 1000,
        nextAttemptAt: new Date(1_000_000 + 1000).toISOString(),
      },
    });
    await l.launch('public.orders'); // within the backoff: nothing
    expect(runTasks()).toHaveLength(1);
    advance(1000);
    expect(await l.isRunning('public.orders')).toBe(false);
    await l.launch('public.orders');
    expect(runTasks()).toHaveLength(2);
    ecs.stop(ecs.tasks[1]!, 1);
    await l.isRunning('public.orders');
    advance(1000);
    await l.launch('public.orders'); // second failure: waits 2 s
    expect(runTasks()).toHaveLength(2);
    advance(1000);
    await l.launch('public.orders');
    expect(runTasks()).toHaveLength(3);
    // A copy that ends well clears the count.
    ecs.stop(ecs.tasks[2]!, 0);
    await l.isRunning('public.orders');
    expect(l.stats).toEqual({ launched: 3, failures: 2 });
    await l.launch('public.orders');
    expect(runTasks()).toHaveLength(4);
  });

  it('treats RunTask failures and errors as failed launches, without throwing', async () => {
    reset();
    const { l, failures, advance } = launcher();
    ecs.runTask = () => ({ fail: 'RESOURCE:ENI' });
    await l.launch('public.orders');
    expect(failures).toEqual(['public.orders: RunTask failed: RESOURCE:ENI']);
    expect(l.running).toBe(0);
    advance(1000);
    ecs.runTask = () => ({ error: { type: 'ThrottlingException', message: 'Rate exceeded' } });
    await l.launch('public.orders');
    expect(failures[1]).toMatch(/^public\.orders: RunTask failed: ThrottlingException: Rate exceeded/);
    advance(2000);
    ecs.runTask = () => ({ task: () => {} });
    await l.launch('public.orders');
    expect(await l.isRunning('public.orders')).toBe(true);
    expect(l.stats).toEqual({ launched: 1, failures: 2 });
  });

  it('runs at most parallel_copies tasks of the node at once', async () => {
    reset();
    const { l } = launcher({ maxRunning: 1 });
    await l.launch('public.a');
    await l.launch('public.b');
    expect(runTasks().map((c) => (c.body.overrides as any).containerOverrides[0].command[2])).toEqual([
      'public.a',
    ]);
    ecs.stop(ecs.tasks[0]!, 0);
    await l.launch('public.b');
    expect(runTasks()).toHaveLength(2);
  });
});

describe('EcsLauncher under a worker', () => {
  const f = useLondisteSet(['root', 'leaf']);
  beforeAll(async () => {
    await f.s.build('root', [['leaf', 'leaf', 'root']]);
    f.s.startTicker('root');
  });

  it('relaunches a copy task that died with exit code 1; the relaunched copy brings the table to ok', async () => {
    reset();
    const { s } = f;
    const ddl = 'create table public.items (id int primary key, v text)';
    await s.db('root').query(ddl);
    await s.db('leaf').query(ddl);
    await s.db('root').query("insert into items select g, 'v' || g from generate_series(1, 2000) g");
    for (const n of ['root', 'leaf']) {
      const a = new LondisteAdmin({ queue: s.queue, localLocation: s.db(n).url });
      try {
        await a.addTables(['public.items']);
      } finally {
        await a.close();
      }
    }
    // The first task dies at once; the next one runs the copy job (in this process).
    const copies: Promise<unknown>[] = [];
    const stopCopies = new AbortController();
    let attempt = 0;
    ecs.runTask = () => ({
      task: (t: FakeTask) => {
        if (attempt++ === 0) return setTimeout(() => ecs.stop(t, 1, 'copy crashed'), 50);
        t.lastStatus = 'RUNNING';
        const table = t.command[2]!;
        copies.push(
          new LondisteWorker(s.workerOptions('leaf', { copyTable: table, signal: stopCopies.signal }))
            .run()
            .then(
              () => ecs.stop(t, 0),
              () => ecs.stop(t, 1),
            ),
        );
      },
    });
    const launcherLog: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const l = new EcsLauncher({
      cluster: 'skytools',
      taskDefinition: 'leaf-copy:1',
      container: 'londiste',
      subnets: ['subnet-a'],
      securityGroups: [],
      node: 'leaf',
      maxRunning: 2,
      client,
      pollMs: 100,
      backoffMs: 300,
      log: recordingLog(launcherLog),
    });
    const ctl = new AbortController();
    const done = new LondisteWorker(s.workerOptions('leaf', { launcher: l, signal: ctl.signal })).run();
    try {
      await waitUntil(
        'items ok on the leaf',
        async () => (await s.tableState('leaf', 'public.items')) === 'ok',
        60_000,
      );
    } finally {
      ctl.abort();
      stopCopies.abort();
      await done;
      await Promise.allSettled(copies);
    }
    expect(await s.fingerprint('leaf', 'items')).toEqual(await s.fingerprint('root', 'items'));
    expect(runTasks()).toHaveLength(2);
    expect(l.stats).toEqual({ launched: 2, failures: 1 });
    expect(launcherLog.some((x) => x.level === 'warn' && /copy crashed/.test(String(x.fields.reason)))).toBe(
      true,
    );
  }, 120_000);
  it('logs a copy in backoff once per attempt, with the time of the next one', async () => {
    reset();
    const { s } = f;
    const ddl = 'create table public.backoff (id int primary key)';
    await s.db('root').query(ddl);
    await s.db('leaf').query(ddl);
    for (const n of ['root', 'leaf']) {
      const a = new LondisteAdmin({ queue: s.queue, localLocation: s.db(n).url });
      try {
        await a.addTables(['public.backoff']);
      } finally {
        await a.close();
      }
    }
    // Every copy task dies at once: attempts at 0 s, +1 s, +3 s (backoff 1 s, doubled).
    ecs.runTask = () => ({ task: (t: FakeTask) => setTimeout(() => ecs.stop(t, 1, 'copy crashed'), 20) });
    const log: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const l = new EcsLauncher({
      cluster: 'skytools',
      taskDefinition: 'leaf-copy:1',
      container: 'londiste',
      subnets: ['subnet-a'],
      securityGroups: [],
      node: 'leaf',
      maxRunning: 2,
      client,
      pollMs: 50,
      backoffMs: 1000,
      log: recordingLog(log),
    });
    const ctl = new AbortController();
    // The worker would relaunch a dead copy every 100 ms: only the backoff holds it back.
    const done = new LondisteWorker(
      s.workerOptions('leaf', {
        launcher: l,
        signal: ctl.signal,
        relaunchIntervalMs: 100,
        log: recordingLog(log),
      }),
    ).run();
    try {
      await waitUntil('three failed attempts', async () => l.stats.failures >= 3, 30_000);
      // Past the third failure, within its 4 s backoff: nothing more is said or tried.
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      ctl.abort();
      await done;
    }
    const forTable = log.filter((x) => x.fields.table === 'public.backoff');
    const relaunching = forTable.filter((x) => x.msg === 'copy job is not running; relaunching it');
    const failed = forTable.filter((x) => x.msg === 'copy task failed; relaunching after a backoff');
    expect(l.stats).toEqual({ launched: 3, failures: 3 });
    expect(runTasks()).toHaveLength(3);
    // The first launch is the new table's; the worker said "relaunching" once for each later attempt.
    expect(relaunching).toHaveLength(2);
    expect(failed.map((x) => x.fields.backoffMs)).toEqual([1000, 2000, 4000]);
    for (const x of failed) expect(Date.parse(String(x.fields.nextAttemptAt))).toBeGreaterThan(0);
    expect(forTable.filter((x) => x.level !== 'debug' && /deferred/.test(x.msg))).toEqual([]);
  }, 60_000);
});
