// CDK constructs: Template assertions per construct, and cdk-nag (AwsSolutions) with zero
// unacknowledged findings. The construct stack skips bundling (fast); the example app stack
// bundles every handler with esbuild, as `cdk synth` does.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  FUNCTIONS_DIR,
  PgqConsumerFunction,
  PgqMaintenance,
  PgqSchema,
  PgqTicker,
  SkytoolsDashboard,
  SkytoolsExampleStack,
} from '../../infra/index.ts';

const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

function constructStack() {
  const app = new App({ context: NO_BUNDLING });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Constructs', { env: { account: '111111111111', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    natGateways: 0,
    subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
  Validations.of(vpc).acknowledge({
    id: 'AwsSolutions::AwsSolutions-VPC7',
    reason: 'Test VPC only carries the constructs under test; the example stack has flow logs.',
  });
  const secret = new secretsmanager.Secret(stack, 'Secret');
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions::AwsSolutions-SMG4',
    reason: 'Test secret; rotation is the database owner’s (the example stack rotates its secret).',
  });
  const database = { secret, vpc };
  const ticker = new PgqTicker(stack, 'Ticker', { database });
  const maintenance = new PgqMaintenance(stack, 'Maintenance', { database });
  const consumer = new PgqConsumerFunction(stack, 'Billing', {
    database: { ...database, consumerHost: 'proxy.example.internal' },
    queue: 'orders',
    consumer: 'billing',
    entry: `${FUNCTIONS_DIR}/example-consumer/handler.ts`,
    ticker,
  });
  const schema = new PgqSchema(stack, 'Schema', { database });
  const dashboard = new SkytoolsDashboard(stack, 'Dashboard', { ticker, consumers: [consumer] });
  return {
    app,
    stack,
    ticker,
    maintenance,
    consumer,
    schema,
    dashboard,
    template: Template.fromStack(stack),
  };
}

describe('CDK constructs', () => {
  const s = constructStack();
  const t = s.template;
  const fnProps = (description: string) =>
    t.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp(description) },
    });

  it('PgqTicker: nodejs24.x on ARM in the VPC, scheduled every minute with its scheduled time, wakes the consumer queue', () => {
    const [id, fn] = Object.entries(fnProps('PgQ ticker'))[0]!;
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 70,
      VpcConfig: expect.any(Object),
    });
    expect(fn.Properties.Environment.Variables).toMatchObject({
      PGQ_TICK_PERIOD: '1',
      PGQ_SCHEDULE_PERIOD: '60',
      DATABASE_SSL: 'verify-full',
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
    });
    // Never through the consumers' proxy: no DATABASE_HOST on the ticker.
    expect(fn.Properties.Environment.Variables.DATABASE_HOST).toBeUndefined();
    const targets = JSON.stringify(s.stack.resolve(fn.Properties.Environment.Variables.PGQ_WAKEUP_TARGETS));
    expect(targets).toContain('orders');
    expect(targets).toContain('billing');
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      Target: Match.objectLike({
        Arn: { 'Fn::GetAtt': [id, 'Arn'] },
        Input: Match.stringLikeRegexp('aws.scheduler.scheduled-time'),
        RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 0 }),
      }),
    });
    // May send to the consumer's wake-up queue, and read the secret; nothing else.
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('sqs:SendMessage');
    expect(policies).toContain('secretsmanager:GetSecretValue');
    expect(policies).not.toMatch(/"Action":"\*"|"sqs:\*"/);
  });

  it('PgqMaintenance: its own function and a 5-minute schedule', () => {
    const [id, fn] = Object.entries(fnProps('retry and maintenance'))[0]!;
    expect(fn.Properties.Timeout).toBe(300);
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } }),
    });
  });

  it('PgqConsumerFunction: encrypted FIFO queue with DLQ, event source with batch item failures, alarm, registration', () => {
    const queues = t.findResources('AWS::SQS::Queue');
    expect(
      Object.values(queues).every(
        (q) => q.Properties.FifoQueue === true && q.Properties.SqsManagedSseEnabled === true,
      ),
    ).toBe(true);
    t.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 360,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
    });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const fn = Object.values(fnProps('consumer billing of orders'))[0]!;
    expect(fn.Properties.Environment.Variables).toMatchObject({
      PGQ_QUEUE: 'orders',
      PGQ_CONSUMER: 'billing',
      DATABASE_HOST: 'proxy.example.internal',
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    t.hasResourceProperties('Custom::PgqConsumer', {
      Action: 'register-consumer',
      Queue: 'orders',
      Consumer: 'billing',
      UnregisterOnDelete: 'false',
    });
    t.hasResourceProperties('Custom::PgqSchema', {
      Action: 'install',
      SqlHash: Match.stringLikeRegexp('^[0-9a-f]{16}$'),
    });
    // One admin provider per database, shared by the schema and the registration.
    expect(Object.keys(fnProps('schema install, consumer registration and login roles'))).toHaveLength(1);
  });

  it('PgqConsumerFunction with subconsumers: the function and the ticker both know the cooperative consumer (default 1: plain)', () => {
    // The plain consumer above: no coop settings anywhere.
    const plain = Object.values(fnProps('consumer billing of orders'))[0]!;
    expect(plain.Properties.Environment.Variables.PGQ_SUBCONSUMERS).toBeUndefined();
    const plainTicker = Object.values(fnProps('PgQ ticker'))[0]!;
    expect(
      JSON.stringify(s.stack.resolve(plainTicker.Properties.Environment.Variables.PGQ_WAKEUP_TARGETS)),
    ).not.toContain('subconsumers');

    const app = new App({ context: NO_BUNDLING });
    const stack = new Stack(app, 'Coop', { env: { account: '111111111111', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      natGateways: 0,
      subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const database = { secret: new secretsmanager.Secret(stack, 'Secret'), vpc };
    const ticker = new PgqTicker(stack, 'Ticker', { database });
    new PgqConsumerFunction(stack, 'Crew', {
      database,
      queue: 'orders',
      consumer: 'crew',
      entry: `${FUNCTIONS_DIR}/example-consumer/handler.ts`,
      ticker,
      subconsumers: 3,
      deadInterval: Duration.minutes(5),
    });
    const ct = Template.fromStack(stack);
    ct.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('consumer crew of orders'),
      Environment: {
        Variables: Match.objectLike({
          PGQ_CONSUMER: 'crew',
          PGQ_SUBCONSUMERS: '3',
          PGQ_DEAD_INTERVAL: '300',
        }),
      },
    });
    const tickerFn = Object.values(
      ct.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('PgQ ticker') },
      }),
    )[0]!;
    const targets = JSON.stringify(
      stack.resolve(tickerFn.Properties.Environment.Variables.PGQ_WAKEUP_TARGETS),
    );
    expect(targets).toMatch(/crew/);
    expect(targets).toMatch(/subconsumers\W+3/);
    expect(
      () =>
        new PgqConsumerFunction(stack, 'Bad', {
          database,
          queue: 'orders',
          consumer: 'bad',
          entry: `${FUNCTIONS_DIR}/example-consumer/handler.ts`,
          subconsumers: 0,
        }),
    ).toThrow(/subconsumers must be a positive integer/);
  });

  it('SkytoolsDashboard: ticks, events/s, lag, errors and dead letters', () => {
    const body = JSON.stringify(
      s.stack.resolve(
        Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody,
      ),
    );
    for (const m of [
      'Ticks',
      'QueueEventsPerSecond',
      'ConsumerLagSeconds',
      'TickerErrors',
      'ConsumerErrors',
    ]) {
      expect(body).toContain(m);
    }
    expect(body).toContain('Consumer dead letters');
  });

  it('cdk-nag AwsSolutions: no unacknowledged findings on the constructs, and it does catch one', () => {
    expect(() => s.app.synth()).not.toThrow();
    const bad = new App({ context: NO_BUNDLING });
    Validations.of(bad).addPlugins(new AwsSolutionsChecks(bad));
    new sqs.Queue(new Stack(bad, 'Bad'), 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => bad.synth()).toThrow(/AwsSolutions-SQS/);
  });
});

describe('example app', () => {
  it('synthesizes offline with esbuild bundles and no unacknowledged cdk-nag findings', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new SkytoolsExampleStack(app, 'Example');
    const assembly = app.synth();
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::RDS::DBInstance', { StorageEncrypted: true, DeletionProtection: true });
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    // Secrets Manager, SQS; ECR (API, Docker), Logs and ECS for the Londiste tasks; the S3 gateway.
    t.resourceCountIs('AWS::EC2::VPCEndpoint', 7);
    // The two master secrets (example and Londiste leaf database) and one per login (ticker,
    // maintenance, consumer, the Londiste root and leaf).
    t.resourceCountIs('AWS::SecretsManager::RotationSchedule', 7);
    expect(Object.keys(t.findOutputs('*'))).toEqual(
      expect.arrayContaining([
        'DatabaseSecretArn',
        'TickerFunctionName',
        'ConsumerWakeupQueueUrl',
        'PgqVersion',
      ]),
    );
    // The RDS master secret: only the admin custom resource may read it; every other function
    // reads its own login's secret.
    const masterId = stack.getLogicalId(
      stack.node.findChild('Database').node.findChild('Secret').node.findChild('Attachment').node
        .defaultChild as never,
    );
    const readers = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) =>
      p.Properties.PolicyDocument.Statement.some(
        (st: { Action: string | string[]; Resource: unknown }) =>
          [st.Action].flat().includes('secretsmanager:GetSecretValue') &&
          JSON.stringify(st.Resource).includes(`"${masterId}"`),
      ),
    );
    expect(readers.map((p) => p.Properties.Roles[0].Ref)).toEqual([
      expect.stringMatching(/^PgqAdmin.*OnEvent/),
    ]);
    t.resourceCountIs('Custom::PgqDatabaseRole', 5);
    const fns = Object.values(t.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.Handler === 'index.handler',
    );
    // Admin (one per database), ticker, maintenance, consumer, the two Londiste node set-ups.
    expect(fns).toHaveLength(7);
    expect(fns.every((f) => f.Properties.Runtime === 'nodejs24.x')).toBe(true);
    // esbuild ran locally (no Docker) and wrote an ESM bundle per handler.
    const bundles = readdirSync(assembly.directory).filter((d) =>
      existsSync(path.join(assembly.directory, d, 'index.mjs')),
    );
    expect(bundles.length).toBeGreaterThanOrEqual(4);
  });
});
