// LondisteNode: the template a root and a leaf below it produce (service and deployment
// settings, task definitions and their environment, IAM statements, secrets, alarms, dashboard
// widgets, the set-up custom resource), cdk-nag AwsSolutions with zero unacknowledged findings,
// and `npx cdk synth` of the example app offline (the container image only staged, never built).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { LONDISTE_DIMENSIONS, LONDISTE_METRICS } from '../../infra/constructs/londiste-metrics.ts';
import {
  LondisteNode,
  type PgqDatabase,
  PgqSchema,
  REPO_ROOT,
  SkytoolsDashboard,
} from '../../infra/index.ts';

const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const IMAGE = ecs.ContainerImage.fromRegistry('123456789012.dkr.ecr.eu-west-1.amazonaws.com/skytools:test');

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string };

function nodeStack() {
  const app = new App({ context: NO_BUNDLING });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Londiste', { env: { account: '111111111111', region: 'eu-west-1' } });
  const flowLogs = ec2.FlowLogDestination.toCloudWatchLogs();
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    natGateways: 0,
    subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    flowLogs: { all: { destination: flowLogs } },
  });
  const db = (id: string, dbname: string): PgqDatabase => {
    const instance = new rds.DatabaseInstance(stack, id, {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      databaseName: dbname,
      storageEncrypted: true,
      deletionProtection: true,
      multiAz: true,
      port: 5433,
      backupRetention: Duration.days(7),
      cloudwatchLogsExports: ['postgresql'],
      iamAuthentication: true,
    });
    instance.addRotationSingleUser();
    return {
      secret: instance.secret!,
      vpc,
      connections: instance,
      endpoint: { host: instance.dbInstanceEndpointAddress, port: instance.dbInstanceEndpointPort, dbname },
    };
  };
  const rootDb = db('RootDb', 'app');
  const leafDb = db('LeafDb', 'replica');
  new PgqSchema(stack, 'RootSchema', { database: rootDb });
  new PgqSchema(stack, 'LeafSchema', { database: leafDb });
  const topic = new sns.Topic(stack, 'Alarms', { enforceSSL: true });
  Validations.of(topic).acknowledge({
    id: 'AwsSolutions::AwsSolutions-SNS2',
    reason: 'Test topic, no data.',
  });
  const root = new LondisteNode(stack, 'Root', {
    database: rootDb,
    queue: 'replika',
    nodeName: 'a',
    nodeType: 'root',
    tables: [
      'public.orders',
      { name: 'public.items', handler: 'londiste', handlerArgs: { ignore_truncate: '1' } },
    ],
    sequences: ['public.orders_id_seq'],
    databaseSql: ['create table if not exists public.orders (id bigint primary key, v text)'],
    image: IMAGE,
  });
  const leaf = new LondisteNode(stack, 'Leaf', {
    database: leafDb,
    queue: 'replika',
    nodeName: 'b',
    nodeType: 'leaf',
    provider: root,
    tables: ['public.orders', { name: 'public.items', destTable: 'copy.items', create: true }],
    sequences: ['public.orders_id_seq'],
    tableOwner: 'app_owner',
    parallelCopies: 2,
    lagThreshold: Duration.minutes(2),
    alarmTopic: topic,
    removeTablesOnDelete: true,
    image: IMAGE,
  });
  const dashboard = new SkytoolsDashboard(stack, 'Dashboard', { londisteNodes: [root, leaf] });
  return { app, stack, root, leaf, dashboard, template: Template.fromStack(stack) };
}

describe('LondisteNode', () => {
  const s = nodeStack();
  const t = s.template;
  const id = (c: { node: { defaultChild?: unknown } }) => s.stack.getLogicalId(c.node.defaultChild as never);
  const taskDef = (c: ecs.TaskDefinition) => t.toJSON().Resources[id(c)].Properties;
  const container = (c: ecs.TaskDefinition) => taskDef(c).ContainerDefinitions[0];
  const env = (c: ecs.TaskDefinition): Record<string, unknown> =>
    Object.fromEntries(
      container(c).Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]),
    );
  const policyOf = (roleId: string): Statement[] =>
    Object.values(t.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);

  it('runs the worker as a Fargate service on ARM: desired 1, min 0 % / max 100 %, circuit breaker with rollback, no public IP', () => {
    t.resourceCountIs('AWS::ECS::Service', 2);
    const svc = t.toJSON().Resources[id(s.leaf.service)].Properties;
    expect(svc).toMatchObject({
      LaunchType: 'FARGATE',
      DesiredCount: 1,
      DeploymentConfiguration: {
        MinimumHealthyPercent: 0,
        MaximumPercent: 100,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
      TaskDefinition: { Ref: id(s.leaf.workerTaskDefinition) },
    });
    for (const td of [s.leaf.workerTaskDefinition, s.leaf.copyTaskDefinition]) {
      expect(taskDef(td)).toMatchObject({
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        RequiresCompatibilities: ['FARGATE'],
        NetworkMode: 'awsvpc',
      });
    }
    expect(taskDef(s.leaf.workerTaskDefinition)).toMatchObject({ Cpu: '256', Memory: '512' });
    // Its own cluster with Container Insights (the running-task alarm reads it).
    t.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('task definitions: the agreed environment, commands, non-root, read-only root, no secret values in the environment', () => {
    const worker = env(s.leaf.workerTaskDefinition);
    const copy = env(s.leaf.copyTaskDefinition);
    expect(container(s.leaf.workerTaskDefinition).Command).toEqual(['londiste', 'worker']);
    expect(container(s.leaf.copyTaskDefinition).Command).toEqual(['londiste', 'copy']);
    expect(container(s.leaf.copyTaskDefinition).Name).toBe('copy');
    expect(worker).toMatchObject({
      LONDISTE_QUEUE: 'replika',
      LONDISTE_NODE: 'b',
      LONDISTE_NODE_TYPE: 'leaf',
      LONDISTE_JOB_NAME: 'replika_b',
      DB_SECRET_ARN: { Ref: id(s.leaf.login!.secret) },
      LONDISTE_PROVIDER_SECRET_ARN: { Ref: id(s.root.login!.secret) },
      LONDISTE_PARALLEL_COPIES: '2',
      LONDISTE_LAUNCHER: 'ecs',
      LONDISTE_COPY_TASK_DEFINITION: { Ref: id(s.leaf.copyTaskDefinition) },
      LONDISTE_COPY_CLUSTER: { 'Fn::GetAtt': [id(s.leaf.cluster as ecs.Cluster), 'Arn'] },
      LONDISTE_COPY_SECURITY_GROUPS: { 'Fn::GetAtt': [id(s.leaf.securityGroup), 'GroupId'] },
      LONDISTE_COPY_CONTAINER: 'copy',
      LOG_FORMAT: 'json',
    });
    expect(JSON.stringify(worker.LONDISTE_COPY_SUBNETS)).toMatch(/Subnet1.*,.*Subnet2/);
    // The provider's location: its endpoint and the root's login role, no password.
    const location = JSON.stringify(s.stack.resolve(worker.LONDISTE_PROVIDER_LOCATION));
    expect(location).toContain('user=londiste_replika_a');
    expect(location).toContain('Endpoint.Address');
    expect(location).not.toMatch(/password|resolve:secretsmanager/i);
    // The copy task is the same job without the launcher's settings.
    expect(
      Object.keys(copy).filter((k) => k.startsWith('LONDISTE_COPY_') || k === 'LONDISTE_LAUNCHER'),
    ).toEqual([]);
    expect(copy.DB_SECRET_ARN).toEqual(worker.DB_SECRET_ARN);
    // A root has no provider.
    expect(env(s.root.workerTaskDefinition)).not.toHaveProperty('LONDISTE_PROVIDER_LOCATION');
    expect(env(s.root.workerTaskDefinition).LONDISTE_NODE_TYPE).toBe('root');
    for (const td of [s.leaf.workerTaskDefinition, s.leaf.copyTaskDefinition, s.root.workerTaskDefinition]) {
      const c = container(td);
      expect(c).toMatchObject({ User: '1000:1000', ReadonlyRootFilesystem: true, Essential: true });
      expect(c.Secrets).toBeUndefined();
      expect(c.LogConfiguration.LogDriver).toBe('awslogs');
      // Secrets go by ARN only: no secret value and no dynamic reference in any variable.
      for (const e of c.Environment as { Name: string; Value: unknown }[]) {
        expect(e.Name).not.toMatch(/PASSWORD/);
        expect(JSON.stringify(s.stack.resolve(e.Value))).not.toMatch(/resolve:secretsmanager|SecretString/);
      }
    }
  });

  it('IAM: the worker runs only its copy task definition, watches only its cluster, passes only the copy roles, reads only its logins', () => {
    const workerRole = id(s.leaf.workerTaskDefinition.taskRole as never);
    const statements = policyOf(workerRole);
    for (const st of statements) {
      expect(st.Effect).toBe('Allow');
      for (const a of [st.Action].flat()) expect(a).not.toMatch(/\*/);
    }
    const by = (action: string) => statements.filter((st) => [st.Action].flat().includes(action));
    const clusterArn = { 'Fn::GetAtt': [id(s.leaf.cluster as ecs.Cluster), 'Arn'] };
    expect(by('ecs:RunTask')).toEqual([
      expect.objectContaining({
        Resource: { Ref: id(s.leaf.copyTaskDefinition) },
        Condition: { ArnEquals: { 'ecs:cluster': clusterArn } },
      }),
    ]);
    const [watch] = by('ecs:StopTask');
    expect([watch!.Action].flat().sort()).toEqual(['ecs:DescribeTasks', 'ecs:StopTask']);
    expect(JSON.stringify(watch!.Resource)).toMatch(/:task\/".*LeafCluster.*"\/\*"/);
    expect(watch!.Condition).toEqual({ ArnEquals: { 'ecs:cluster': clusterArn } });
    expect(by('ecs:ListTasks')[0]!.Condition).toEqual({ ArnEquals: { 'ecs:cluster': clusterArn } });
    const [tag] = by('ecs:TagResource');
    expect(tag!.Resource).toEqual(watch!.Resource);
    expect(tag!.Condition).toEqual({ StringEquals: { 'ecs:CreateAction': 'RunTask' } });
    // Nothing else: secrets, the copy launch and its roles.
    expect(
      [...new Set(statements.flatMap((st) => [st.Action].flat()))]
        .filter((a) => !a.startsWith('secretsmanager:'))
        .sort(),
    ).toEqual([
      'ecs:DescribeTasks',
      'ecs:ListTasks',
      'ecs:RunTask',
      'ecs:StopTask',
      'ecs:TagResource',
      'iam:PassRole',
    ]);
    const [pass] = by('iam:PassRole');
    const copyRoles = [
      { 'Fn::GetAtt': [id(s.leaf.copyTaskDefinition.obtainExecutionRole() as never), 'Arn'] },
      { 'Fn::GetAtt': [id(s.leaf.copyTaskDefinition.taskRole as never), 'Arn'] },
    ];
    expect(pass!.Resource).toEqual(expect.arrayContaining(copyRoles));
    expect(pass!.Resource).toHaveLength(2);
    expect(pass!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    expect(by('ecs:RunTask')).toHaveLength(1);
    // Secrets: read-only, its own login and the provider's login — never a master secret.
    const reads = by('secretsmanager:GetSecretValue');
    expect([...new Set(reads.flatMap((st) => [st.Action].flat()))].sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    const secretsRead = [
      ...new Set(reads.flatMap((st) => [st.Resource].flat().map((r) => JSON.stringify(r)))),
    ];
    expect(secretsRead.sort()).toEqual(
      [{ Ref: id(s.leaf.login!.secret) }, { Ref: id(s.root.login!.secret) }]
        .map((r) => JSON.stringify(r))
        .sort(),
    );
    // The copy task's role: the same secrets, and no ECS or IAM actions at all.
    const copyStatements = policyOf(id(s.leaf.copyTaskDefinition.taskRole as never));
    expect(
      copyStatements.flatMap((st) => [st.Action].flat()).filter((a) => !a.startsWith('secretsmanager:')),
    ).toEqual([]);
    // The root worker (no provider) reads only its own login.
    const rootReads = policyOf(id(s.root.workerTaskDefinition.taskRole as never)).filter((st) =>
      [st.Action].flat().includes('secretsmanager:GetSecretValue'),
    );
    expect(rootReads.flatMap((st) => [st.Resource].flat())).toEqual([{ Ref: id(s.root.login!.secret) }]);
  });

  it('network: the tasks get ingress to their database and to the provider database; logs are encrypted with retention', () => {
    const sg = id(s.leaf.securityGroup);
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).filter(
      (r) =>
        JSON.stringify(r.Properties.SourceSecurityGroupId) ===
        JSON.stringify({ 'Fn::GetAtt': [sg, 'GroupId'] }),
    );
    const targets = ingress.map((r) => JSON.stringify(r.Properties.GroupId));
    expect(targets.some((g) => g.includes('LeafDbSecurityGroup'))).toBe(true);
    expect(targets.some((g) => g.includes('RootDbSecurityGroup'))).toBe(true);
    // On each database's own port (5433 here, the instances' endpoint port).
    expect(ingress.every((r) => JSON.stringify(r.Properties.FromPort).includes('Endpoint.Port'))).toBe(true);
    for (const lg of [s.leaf.logGroup, s.leaf.copyLogGroup]) {
      expect(t.toJSON().Resources[id(lg)].Properties).toMatchObject({
        RetentionInDays: 30,
        KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^LeafLogKey/), 'Arn'] },
      });
    }
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('login role: londiste_writer and pgq_reader, the table owner, grants by node type', () => {
    const roles = Object.values(t.findResources('Custom::PgqDatabaseRole')).map((r) => r.Properties);
    const leaf = roles.find((r) => r.Role === 'londiste_replika_b')!;
    const root = roles.find((r) => r.Role === 'londiste_replika_a')!;
    expect([...leaf.MemberOf].sort()).toEqual(['app_owner', 'londiste_writer', 'pgq_reader']);
    expect([...root.MemberOf].sort()).toEqual(['londiste_writer', 'pgq_reader']);
    // copy.items is created by the set-up, owned by app_owner: no grant (it does not exist yet).
    expect(JSON.parse(leaf.Grants)).toEqual({
      'public.orders': ['delete', 'insert', 'select', 'truncate', 'update'],
      'public.orders_id_seq': ['select', 'update', 'usage'],
    });
    expect(JSON.parse(root.Grants)).toEqual({
      'public.orders': ['select', 'trigger'],
      'public.items': ['select', 'trigger'],
      'public.orders_id_seq': ['select'],
    });
  });

  it('alarms: no running worker, lag above the threshold (not on the root), copy task failures from ECS task state changes', () => {
    const alarm = (a: { node: { defaultChild?: unknown } }) => t.toJSON().Resources[id(a)].Properties;
    expect(alarm(s.leaf.workerAlarm)).toMatchObject({
      Namespace: 'ECS/ContainerInsights',
      MetricName: 'RunningTaskCount',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
      Dimensions: expect.arrayContaining([
        { Name: 'ServiceName', Value: { 'Fn::GetAtt': [id(s.leaf.service), 'Name'] } },
      ]),
      AlarmActions: [{ Ref: expect.stringMatching(/^Alarms/) }],
    });
    const lag = alarm(s.leaf.lagAlarm!);
    expect(lag.Metrics[0].MetricStat).toMatchObject({
      Metric: {
        Namespace: 'Skytools',
        MetricName: LONDISTE_METRICS.lag,
        Dimensions: expect.arrayContaining([
          { Name: 'Node', Value: 'b' },
          { Name: 'Queue', Value: 'replika' },
        ]),
      },
      Stat: 'Maximum',
    });
    expect(lag).toMatchObject({
      Threshold: 120,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 5,
    });
    expect(s.root.lagAlarm).toBeUndefined();
    expect(alarm(s.leaf.copyFailureAlarm)).toMatchObject({
      Namespace: 'AWS/Events',
      MetricName: 'MatchedEvents',
      Dimensions: [{ Name: 'RuleName', Value: { Ref: id(s.leaf.copyFailureRule) } }],
      Threshold: 1,
    });
    expect(t.toJSON().Resources[id(s.leaf.copyFailureRule)].Properties.EventPattern).toEqual({
      source: ['aws.ecs'],
      'detail-type': ['ECS Task State Change'],
      detail: {
        clusterArn: [{ 'Fn::GetAtt': [id(s.leaf.cluster as ecs.Cluster), 'Arn'] }],
        taskDefinitionArn: [{ Ref: id(s.leaf.copyTaskDefinition) }],
        lastStatus: ['STOPPED'],
        $or: [
          { stopCode: ['TaskFailedToStart'] },
          { stopCode: ['EssentialContainerExited'], containers: { exitCode: [{ 'anything-but': 0 }] } },
        ],
      },
    });
  });

  it('dashboard: lag, events applied per second, tables per state, copies running, the alarms', () => {
    const body = JSON.stringify(
      s.stack.resolve(t.toJSON().Resources[id(s.dashboard.dashboard)].Properties.DashboardBody),
    );
    for (const title of [
      'Londiste replay lag, seconds',
      'Londiste events applied per second',
      'Londiste tables per state',
      'Londiste copies running (and failed)',
      'Londiste alarms',
    ]) {
      expect(body).toContain(title);
    }
    for (const m of Object.values(LONDISTE_METRICS)) expect(body).toContain(m);
    expect(body).toContain('\\"State\\",\\"in-copy\\"');
    expect(body).toContain('\\"State\\",\\"failed\\"');
  });

  it('set-up custom resource: the agreed properties, after the login and the provider node; the service after it', () => {
    const crs = t.findResources('Custom::LondisteNode');
    const leaf = crs[id(s.leaf.setup)]!;
    expect(leaf.Properties).toMatchObject({
      Queue: 'replika',
      Node: 'b',
      NodeType: 'leaf',
      // The consumer name the worker runs as (its LONDISTE_JOB_NAME).
      Worker: 'replika_b',
      Tables: [{ name: 'public.orders' }, { name: 'public.items', destTable: 'copy.items', create: true }],
      Sequences: ['public.orders_id_seq'],
      RemoveTablesOnDelete: true,
      TableOwner: 'app_owner',
    });
    expect(JSON.stringify(leaf.Properties.ProviderLocation)).toContain('user=londiste_replika_a');
    expect(leaf.DependsOn).toEqual(expect.arrayContaining([id(s.root.setup)]));
    expect(leaf.DependsOn.some((d: string) => /^LeafLogin/.test(d))).toBe(true);
    const root = crs[id(s.root.setup)]!;
    expect(root.Properties).toMatchObject({
      NodeType: 'root',
      Tables: [
        { name: 'public.orders' },
        { name: 'public.items', handler: 'londiste', handlerArgs: { ignore_truncate: '1' } },
      ],
      RemoveTablesOnDelete: false,
    });
    expect(root.Properties.ProviderLocation).toBeUndefined();
    expect(t.toJSON().Resources[id(s.leaf.service)].DependsOn).toEqual(
      expect.arrayContaining([id(s.leaf.setup)]),
    );
    // Its function logs in with the node's login and reads the provider's login.
    const fnEnv = t.toJSON().Resources[id(s.leaf.setupFunction)].Properties.Environment.Variables;
    expect(fnEnv).toMatchObject({
      DATABASE_SECRET_ARN: { Ref: id(s.leaf.login!.secret) },
      LONDISTE_PROVIDER_SECRET_ARN: { Ref: id(s.root.login!.secret) },
      LONDISTE_NODE_TYPE: 'leaf',
    });
  });

  it('metric dimensions: the alarms and the dashboard name exactly the PascalCase ones the worker publishes', () => {
    const published = new Set(Object.values(LONDISTE_DIMENSIONS));
    // An alarm's metric is either on the alarm itself or in its Metrics list (MetricStat).
    const alarmMetrics = Object.values(t.findResources('AWS::CloudWatch::Alarm'))
      .flatMap((a) => [
        a.Properties,
        ...(a.Properties.Metrics ?? []).map(
          (m: { MetricStat?: { Metric: unknown } }) => m.MetricStat?.Metric,
        ),
      ])
      .filter((m) => m?.Namespace === 'Skytools');
    expect(alarmMetrics.length).toBeGreaterThan(0);
    for (const m of alarmMetrics) {
      expect(m.Dimensions.map((d: { Name: string }) => d.Name).sort()).toEqual(['Node', 'Queue']);
    }
    // The dashboard body: each Skytools metric as ["Skytools", name, dim, value, dim, value, …].
    const body = JSON.stringify(
      Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody,
    );
    const rows = [...body.matchAll(/\[\\"Skytools\\",\\"(\w+)\\",((?:\\"[^\\]*\\",?)+)/g)];
    expect(rows.length).toBeGreaterThan(0);
    for (const [, metric, rest] of rows) {
      expect(Object.values(LONDISTE_METRICS)).toContain(metric);
      const parts = [...rest!.matchAll(/\\"([^\\]*)\\"/g)].map((m) => m[1]!);
      const names = parts.filter((_, i) => i % 2 === 0);
      for (const n of names) {
        expect(published.has(n as never)).toBe(true);
        expect(n).toMatch(/^[A-Z][A-Za-z]*$/);
      }
    }
  });

  it('databaseSql: run by the admin custom resource after the schema, before the login and the set-up', () => {
    const sql = t.findResources('Custom::PgqDatabaseSql');
    expect(Object.values(sql).map((r) => r.Properties)).toEqual([
      {
        ServiceToken: expect.anything(),
        Action: 'sql',
        Statements: ['create table if not exists public.orders (id bigint primary key, v text)'],
      },
    ]);
    const sqlId = Object.keys(sql)[0]!;
    expect(sql[sqlId]!.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^RootSchema/)]));
    const roles = t.findResources('Custom::PgqDatabaseRole');
    const rootLogin = Object.entries(roles).find(([, r]) => r.Properties.Role === 'londiste_replika_a')!;
    expect(rootLogin[1].DependsOn).toContain(sqlId);
    expect(t.findResources('Custom::LondisteNode')[id(s.root.setup)]!.DependsOn).toContain(sqlId);
    // Same provider as the schema: the admin function, the only reader of the master secret.
    const admin = Object.entries(t.findResources('AWS::Lambda::Function')).filter(([k]) =>
      /^PgqAdmin.*OnEvent/.test(k),
    );
    expect(admin.length).toBeGreaterThan(0);
  });

  it('with your own loginSecret: no login role, no grants; the set-up still waits for the schema', () => {
    const stack = new Stack(new App({ context: NO_BUNDLING }), 'Own', {
      env: { account: '111111111111', region: 'eu-west-1' },
    });
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0 });
    const database = { secret: new rds.DatabaseSecret(stack, 'Master', { username: 'u' }), vpc };
    const schema = new PgqSchema(stack, 'Schema', { database });
    const own = new rds.DatabaseSecret(stack, 'Own', { username: 'l3' });
    const node = new LondisteNode(stack, 'Root', {
      database,
      queue: 'q',
      nodeName: 'a',
      nodeType: 'root',
      tables: ['public.t'],
      loginSecret: own,
      image: IMAGE,
    });
    const tpl = Template.fromStack(stack);
    tpl.resourceCountIs('Custom::PgqDatabaseRole', 0);
    expect(node.login).toBeUndefined();
    const setup = tpl.toJSON().Resources[stack.getLogicalId(node.setup.node.defaultChild as never)];
    expect(setup.DependsOn).toEqual(
      expect.arrayContaining([stack.getLogicalId(schema.resource.node.defaultChild as never)]),
    );
  });

  it('cdk-nag AwsSolutions: no unacknowledged findings', () => {
    expect(() => s.app.synth()).not.toThrow();
  });

  it('refuses a root with a provider, a leaf without one, a bad parallelCopies; warns without tableOwner', () => {
    const stack = new Stack(new App({ context: NO_BUNDLING }), 'Bad', {
      env: { account: '111111111111', region: 'eu-west-1' },
    });
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0 });
    const database = { secret: new rds.DatabaseSecret(stack, 'S', { username: 'u' }), vpc };
    const base = { database, queue: 'q', image: IMAGE };
    const root = new LondisteNode(stack, 'Root', { ...base, nodeName: 'a', nodeType: 'root' });
    expect(() => new LondisteNode(stack, 'Leaf', { ...base, nodeName: 'b', nodeType: 'leaf' })).toThrow(
      /needs its provider/,
    );
    expect(
      () => new LondisteNode(stack, 'Root2', { ...base, nodeName: 'c', nodeType: 'root', provider: root }),
    ).toThrow(/a root has no provider/);
    // A provider node must say where its database is (no secret reference in custom resource properties).
    expect(
      () => new LondisteNode(stack, 'Leaf2', { ...base, nodeName: 'd', nodeType: 'leaf', provider: root }),
    ).toThrow(/endpoint/);
    const provider = { location: 'host=a dbname=app user=l3', secret: database.secret };
    expect(
      () =>
        new LondisteNode(stack, 'Leaf3', {
          ...base,
          nodeName: 'e',
          nodeType: 'leaf',
          provider,
          parallelCopies: 0,
        }),
    ).toThrow(/parallelCopies/);
    new LondisteNode(stack, 'Leaf4', {
      ...base,
      nodeName: 'f',
      nodeType: 'leaf',
      provider,
      tables: ['public.t'],
    });
    Annotations.fromStack(stack).hasWarning('/Bad/Leaf4', Match.stringLikeRegexp('No tableOwner'));
    // create: below the root only, and with the role that will own the table.
    expect(
      () =>
        new LondisteNode(stack, 'Root3', {
          ...base,
          nodeName: 'g',
          nodeType: 'root',
          tables: [{ name: 'public.t', create: true }],
        }),
    ).toThrow(/applies below the root/);
    expect(
      () =>
        new LondisteNode(stack, 'Leaf5', {
          ...base,
          nodeName: 'h',
          nodeType: 'leaf',
          provider,
          tables: [{ name: 'public.t', create: true }],
        }),
    ).toThrow(/need tableOwner/);
    // copyCondition is no prop; plain JavaScript passing one is told why.
    expect(
      () =>
        new LondisteNode(stack, 'Leaf6', {
          ...base,
          nodeName: 'i',
          nodeType: 'leaf',
          provider,
          tableOwner: 'o',
          tables: [{ name: 'public.t', copyCondition: 'id > 1' } as never],
        }),
    ).toThrow(/copyCondition is not supported: which rows a copy takes is a handler's own decision/);
  });
});

describe('example app: npx cdk synth offline', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'skytools-cdk-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('synthesizes with the Londiste root and leaf, the image staged from the Dockerfile, not built', async () => {
    // No AWS credentials or region lookups: what a fresh clone without an account does.
    const envNoAws = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    await promisify(execFile)('npx', ['cdk', 'synth', '--quiet', '--no-notices', '-o', out], {
      cwd: REPO_ROOT,
      env: { ...envNoAws, CDK_DISABLE_VERSION_CHECK: '1' },
      timeout: 300_000,
    });
    const template = JSON.parse(readFileSync(path.join(out, 'SkytoolsExample.template.json'), 'utf8'));
    const types = Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type);
    expect(types.filter((x) => x === 'Custom::LondisteNode')).toHaveLength(2);
    expect(types.filter((x) => x === 'AWS::ECS::Service')).toHaveLength(2);
    expect(types.filter((x) => x === 'AWS::RDS::DBInstance')).toHaveLength(2);
    // Out of the box: the deploy creates the example table and its owner role on the root, the
    // owner role on the leaf, and the leaf's set-up creates the table from the root's definition.
    const res = Object.values(template.Resources as Record<string, { Type: string; Properties: any }>);
    const sql = res.filter((r) => r.Type === 'Custom::PgqDatabaseSql').map((r) => r.Properties.Statements);
    expect(sql).toHaveLength(2);
    expect(sql.flat()).toContainEqual(
      expect.stringMatching(/^create table if not exists public\.example_orders/),
    );
    expect(sql.flat()).toContain('grant create on schema public to example_owner');
    const nodes = res.filter((r) => r.Type === 'Custom::LondisteNode').map((r) => r.Properties);
    expect(nodes.find((p) => p.NodeType === 'leaf')).toMatchObject({
      Tables: [{ name: 'public.example_orders', create: true }],
      TableOwner: 'example_owner',
    });
    const assets = JSON.parse(readFileSync(path.join(out, 'SkytoolsExample.assets.json'), 'utf8'));
    const images = Object.values(assets.dockerImages as Record<string, { source: { directory: string } }>);
    expect(images).toHaveLength(1);
    const staged = path.join(out, images[0]!.source.directory);
    expect(existsSync(path.join(staged, 'Dockerfile'))).toBe(true);
    // The build context is what .dockerignore lets through: sources, not tests or node_modules.
    expect(readdirSync(staged).sort()).toEqual(
      expect.arrayContaining([
        'Dockerfile',
        'bin',
        'cli',
        'layers',
        'package-lock.json',
        'package.json',
        'sql',
      ]),
    );
    expect(readdirSync(staged)).not.toContain('node_modules');
    expect(readdirSync(staged)).not.toContain('test');
  }, 320_000);
});
