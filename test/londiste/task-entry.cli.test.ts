// The container's entry point as a deployed node runs it: `skytools londiste worker` with no .ini,
// configured by exactly the environment the LondisteNode task definitions give (LONDISTE_*,
// DB_SECRET_ARN, LOG_FORMAT=json), secrets from a Secrets Manager stand-in and copy tasks through
// an ECS stand-in that runs each task's container command (`londiste copy <table>`) as a process
// with the same environment. The nodes are created by the custom resource's logic. The leaf's
// table is copied and replicated, and the worker logs JSON.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startedByFor } from '../../layers/londiste/launcher-ecs.ts';
import { handleNodeEvent } from '../../layers/londiste/node-resource.ts';
import { LONDISTE_TASK_SETTINGS } from '../../layers/londiste/settings.ts';
import { taskConnections } from '../../layers/londiste/task-connect.ts';
import { runTicker } from '../../layers/pgq/ticker.ts';
import { silentLogger } from '../../layers/util/log.ts';
import {
  type AwsJsonServer,
  passwordlessLocation,
  rdsSecret,
  secretsHandlers,
  startAwsJsonServer,
} from '../support/aws-json.ts';
import { EcsStandIn } from './ecs-standin.ts';
import { connectUrl, useLondisteSet, waitUntil } from './replication.ts';

const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');
const f = useLondisteSet(['root', 'leaf']);
const ecs = new EcsStandIn();
const secrets = new Map<string, unknown>();
const arn = (n: string) => `arn:aws:secretsmanager:eu-west-1:111111111111:secret:${n}-AbCdEf`;
let aws: AwsJsonServer;
const procs: ChildProcess[] = [];
const logs: Record<string, string[]> = { root: [], leaf: [], copy: [] };
const stdout: Record<string, string[]> = { root: [], leaf: [] };
const ticker = new AbortController();
let tickerDone: Promise<unknown> = Promise.resolve();

/** What the task definition of a node gives its containers (plus where AWS is, locally). */
function taskEnv(node: 'root' | 'leaf'): NodeJS.ProcessEnv {
  const leaf = node === 'leaf';
  return {
    PATH: process.env.PATH,
    LONDISTE_QUEUE: 'lq',
    LONDISTE_NODE: node,
    LONDISTE_NODE_TYPE: node,
    ...(leaf
      ? {
          LONDISTE_PROVIDER_LOCATION: passwordlessLocation(f.s.db('root').url),
          LONDISTE_PROVIDER_SECRET_ARN: arn('root'),
        }
      : {}),
    DB_SECRET_ARN: arn(node),
    LONDISTE_JOB_NAME: `w_${node}`,
    LONDISTE_PARALLEL_COPIES: '2',
    LONDISTE_LAUNCHER: 'ecs',
    LONDISTE_COPY_TASK_DEFINITION: `arn:aws:ecs:eu-west-1:111111111111:task-definition/${node}-copy:3`,
    LONDISTE_COPY_CLUSTER: 'skytools',
    LONDISTE_COPY_SUBNETS: 'subnet-a,subnet-b',
    LONDISTE_COPY_SECURITY_GROUPS: 'sg-1',
    LONDISTE_COPY_CONTAINER: 'londiste',
    LOG_FORMAT: 'json',
    // Local only: the stand-ins' endpoint and credentials, and a server without TLS.
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    AWS_ENDPOINT_URL_ECS: aws.url,
    DATABASE_SSL: 'disable',
    // Metrics every second instead of every minute, so the test sees them.
    LONDISTE_METRICS_PERIOD: '1',
  };
}

function collect(stream: NodeJS.ReadableStream | null, into: string[]) {
  let buf = '';
  stream?.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    const lines = buf.split('\n');
    buf = lines.pop()!;
    into.push(...lines);
  });
}

async function nodeEvent(node: 'root' | 'leaf', props: Record<string, unknown>) {
  const env = taskEnv(node);
  const client = new SecretsManagerClient({
    endpoint: aws.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const connections = taskConnections(LONDISTE_TASK_SETTINGS.load({ env }).values, { secrets: client });
  const event = {
    RequestType: 'Create',
    ResourceProperties: { ServiceToken: 'arn:x', ...props },
  } as unknown as CloudFormationCustomResourceEvent;
  return handleNodeEvent(event, { connections });
}

beforeAll(async () => {
  aws = await startAwsJsonServer({ ...secretsHandlers(secrets), ...ecs.handlers() });
  secrets.set(arn('root'), rdsSecret(f.s.db('root').url));
  secrets.set(arn('leaf'), rdsSecret(f.s.db('leaf').url));
  tickerDone = runTicker({
    connect: connectUrl(f.s.db('root').url),
    tickPeriodMs: 50,
    signal: ticker.signal,
    log: silentLogger,
  });
});
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)));
  await ecs.kill();
  ticker.abort();
  await tickerDone;
  await aws?.close();
});

describe('skytools londiste worker configured from the environment alone', () => {
  it('replicates a table root → leaf with copies as ECS tasks, logging JSON', async () => {
    const { s } = f;
    const ddl = 'create table public.orders (id bigint primary key, customer text, total numeric(12,2))';
    await s.db('root').query(ddl);
    await s.db('leaf').query(ddl);
    await s
      .db('root')
      .query("insert into orders select g, 'c' || g, g * 1.5 from generate_series(1, 5000) g");
    await nodeEvent('root', {
      Queue: 'lq',
      Node: 'root',
      NodeType: 'root',
      Worker: 'w_root',
      Tables: [{ name: 'orders' }],
    });
    await s.tune('root');
    await nodeEvent('leaf', {
      Queue: 'lq',
      Node: 'leaf',
      NodeType: 'leaf',
      Worker: 'w_leaf',
      ProviderLocation: passwordlessLocation(s.db('root').url),
      Tables: [{ name: 'public.orders' }],
    });
    // The root's location as the leaf's worker reads it from pgq_node carries no password.
    const loc = await s
      .db('leaf')
      .one("select node_location from pgq_node.node_location where queue_name = 'lq' and node_name = 'root'");
    expect(loc.node_location).not.toMatch(/password/);

    ecs.runTask = () => ({ task: ecs.processTask(taskEnv('leaf'), (l) => logs.copy!.push(l)) });
    for (const node of ['root', 'leaf'] as const) {
      const p = spawn(process.execPath, [cli, 'londiste', 'worker'], {
        env: taskEnv(node),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      collect(p.stderr, logs[node]!);
      collect(p.stdout, stdout[node]!);
      procs.push(p);
    }
    await waitUntil(
      'the leaf table ok',
      async () => (await s.tableState('leaf', 'public.orders')) === 'ok',
      90_000,
    );
    for (let i = 0; i < 20; i++) {
      await s.db('root').query('update orders set total = total + 1 where id = $1', [i * 37 + 1]);
      await s.db('root').query("insert into orders values ($1, 'new', 1)", [10_001 + i]);
    }
    await s.caughtUp('leaf', 'root', 60_000);
    expect(await s.fingerprint('leaf', 'orders')).toEqual(await s.fingerprint('root', 'orders'));

    // Metrics as CloudWatch EMF lines on stdout, per queue and node.
    const emf = () => stdout.leaf!.map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitUntil('metrics with the table ok', async () =>
      emf().some((m) => m.State === 'ok' && m.Tables === 1),
    );
    const names = new Set(emf().flatMap((m) => Object.keys(m)));
    for (const n of ['ReplicationLag', 'EventsAppliedPerSecond', 'Tables', 'CopiesRunning'])
      expect(names).toContain(n);
    const lag = emf().find((m) => 'ReplicationLag' in m) as {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
    };
    expect(lag).toMatchObject({ Queue: 'lq', Node: 'leaf' });
    // Exactly the dimension set the construct's alarms name.
    expect(lag._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Skytools',
      Dimensions: [['Queue', 'Node']],
    });
    // The writes after the copy, applied by the main worker, show in a period's rate.
    await waitUntil('a non-zero apply rate', async () =>
      emf().some((m) => (m.EventsAppliedPerSecond as number) > 0),
    );
    // One copy task, as the task definition and network say, named for its node and table.
    const runs = aws.calls.filter((c) => c.operation === 'RunTask');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.body).toMatchObject({
      cluster: 'skytools',
      taskDefinition: 'arn:aws:ecs:eu-west-1:111111111111:task-definition/leaf-copy:3',
      launchType: 'FARGATE',
      startedBy: startedByFor('leaf', 'public.orders'),
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-a', 'subnet-b'],
          securityGroups: ['sg-1'],
          assignPublicIp: 'DISABLED',
        },
      },
      overrides: {
        containerOverrides: [{ name: 'londiste', command: ['londiste', 'copy', 'public.orders'] }],
      },
    });
    expect(ecs.tasks[0]).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
    // JSON lines from the worker and from the copy task.
    for (const lines of [logs.leaf!, logs.copy!]) {
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    }
    expect(logs.copy!.map((l) => JSON.parse(l).msg as string)).toContainEqual(
      expect.stringMatching(/^copy job finished: table public\.orders handed over/),
    );
  }, 180_000);

  it('refuses to start on a node of another type than declared', async () => {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, 'londiste', 'worker'], {
        env: { ...taskEnv('leaf'), LONDISTE_NODE_TYPE: 'branch' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      p.stderr.on('data', (d: Buffer) => {
        err += d.toString('utf8');
      });
      p.on('exit', (code) => resolve({ code, err }));
    });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/node leaf is a leaf, but LONDISTE_NODE_TYPE says branch/);
  }, 60_000);
});
