// The example deployment: a VPC without NAT (functions reach Secrets Manager and SQS through
// interface endpoints), an encrypted PostgreSQL instance with a rotated secret, the schema
// installed by a custom resource, the ticker, maintenance, one consumer function, a Londiste set
// replicating the example table into a second database (root on the example database, leaf on
// its own instance, worker and copies on Fargate; the table and its owner role created by the
// deploy) and the dashboard.
import path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import type { Construct } from 'constructs';
import { SkytoolsDashboard } from './constructs/dashboard.ts';
import { FUNCTIONS_DIR, type PgqDatabase } from './constructs/defaults.ts';
import { LondisteNode } from './constructs/londiste-node.ts';
import { PgqSchema } from './constructs/pgq-admin.ts';
import { PgqConsumerFunction } from './constructs/pgq-consumer-function.ts';
import { PgqMaintenance } from './constructs/pgq-maintenance.ts';
import { PgqTicker } from './constructs/pgq-ticker.ts';

export interface SkytoolsExampleStackProps extends StackProps {
  /** Queue of the example consumer. @default 'example' */
  readonly queue?: string;
  /** @default db.t4g.micro */
  readonly instanceType?: ec2.InstanceType;
  /** Londiste queue of the example set. @default 'replika' */
  readonly londisteQueue?: string;
  /**
   * Tables replicated from the example database to the leaf: they must exist on the example
   * database (the deploy creates `public.example_orders` there); the leaf's set-up creates them
   * from the root's definition. @default ['public.example_orders']
   */
  readonly londisteTables?: readonly string[];
  /** Group role owning the tables on both databases (created by the deploy; the copy rebuilds their indexes). @default 'example_owner' */
  readonly tableOwner?: string;
  /** The Londiste job image. @default built from the repository's Dockerfile by cdk deploy */
  readonly londisteImage?: ecs.ContainerImage;
}

export class SkytoolsExampleStack extends Stack {
  public readonly database: PgqDatabase;
  /** The second database, the Londiste leaf's. */
  public readonly leafDatabase: PgqDatabase;
  public readonly londisteRoot: LondisteNode;
  public readonly londisteLeaf: LondisteNode;
  public readonly ticker: PgqTicker;
  public readonly maintenance: PgqMaintenance;
  public readonly consumer: PgqConsumerFunction;
  public readonly dashboard: SkytoolsDashboard;

  constructor(scope: Construct, id: string, props: SkytoolsExampleStackProps = {}) {
    super(scope, id, props);
    const queue = props.queue ?? 'example';
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH });
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
      flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) } },
    });
    for (const [name, service] of [
      ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['Sqs', ec2.InterfaceVpcEndpointAwsService.SQS],
      // The Londiste tasks: image pull, awslogs, and the worker's RunTask / DescribeTasks.
      ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
      ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
      ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
      ['Ecs', ec2.InterfaceVpcEndpointAwsService.ECS],
    ] as const) {
      const endpoint = vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true });
      Validations.of(endpoint).acknowledge({
        id: 'AwsSolutions::AwsSolutions-EC23',
        reason:
          'cdk-nag cannot resolve the VPC CIDR token: the endpoint only admits HTTPS from inside the VPC.',
      });
    }

    // Image layers come from S3 (gateway endpoint: no hourly charge).
    vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });

    const instance = this.#instance('Database', 'skytools', vpc, props);
    const leafInstance = this.#instance('LeafDatabase', 'skytools_leaf', vpc, props);

    this.database = {
      secret: instance.secret!,
      vpc,
      connections: instance,
      ssl: 'verify-full',
      endpoint: {
        host: instance.dbInstanceEndpointAddress,
        port: instance.dbInstanceEndpointPort,
        dbname: 'skytools',
      },
    };
    const schema = new PgqSchema(this, 'Schema', { database: this.database });
    this.leafDatabase = { secret: leafInstance.secret!, vpc, connections: leafInstance, ssl: 'verify-full' };
    new PgqSchema(this, 'LeafSchema', { database: this.leafDatabase });

    this.ticker = new PgqTicker(this, 'Ticker', { database: this.database });
    this.maintenance = new PgqMaintenance(this, 'Maintenance', { database: this.database });
    this.consumer = new PgqConsumerFunction(this, 'ExampleConsumer', {
      database: this.database,
      queue,
      consumer: 'example_consumer',
      entry: path.join(FUNCTIONS_DIR, 'example-consumer/handler.ts'),
      ticker: this.ticker,
    });
    // The root needs the ticker above (its queue's ticks are what the leaf replays); a leaf has none.
    const londisteQueue = props.londisteQueue ?? 'replika';
    const tables = props.londisteTables ?? ['public.example_orders'];
    const image = props.londisteImage ? { image: props.londisteImage } : {};
    const owner = props.tableOwner ?? 'example_owner';
    this.londisteRoot = new LondisteNode(this, 'LondisteRoot', {
      database: this.database,
      queue: londisteQueue,
      nodeName: 'root',
      nodeType: 'root',
      tables,
      tableOwner: owner,
      // The example's table, owned by the group role both nodes' logins join (as the master user,
      // before the root's login is made; safe to run again).
      databaseSql: [
        ...ownerRoleSql(owner),
        // The master user may hand its table to the role only as a member of it (PostgreSQL 16+).
        `grant ${owner} to current_user`,
        'create table if not exists public.example_orders (id bigint primary key, item text not null, qty int not null)',
        `alter table public.example_orders owner to ${owner}`,
      ],
      ...image,
    });
    this.londisteLeaf = new LondisteNode(this, 'LondisteLeaf', {
      database: this.leafDatabase,
      queue: londisteQueue,
      nodeName: 'leaf',
      nodeType: 'leaf',
      provider: this.londisteRoot,
      // Made by the leaf's set-up from the root's definition, owned by the role.
      tables: tables.map((name) => ({ name, create: true })),
      tableOwner: owner,
      databaseSql: [...ownerRoleSql(owner), `grant create on schema public to ${owner}`],
      // One cluster for the set: the leaf's copies and both workers share it.
      cluster: this.londisteRoot.cluster,
      ...image,
    });
    this.dashboard = new SkytoolsDashboard(this, 'Dashboard', {
      ticker: this.ticker,
      consumers: [this.consumer],
      londisteNodes: [this.londisteRoot, this.londisteLeaf],
    });

    new CfnOutput(this, 'DatabaseSecretArn', { value: instance.secret!.secretArn });
    new CfnOutput(this, 'TickerFunctionName', { value: this.ticker.function.functionName });
    new CfnOutput(this, 'ConsumerWakeupQueueUrl', { value: this.consumer.wakeupQueue.queueUrl });
    new CfnOutput(this, 'PgqVersion', { value: schema.pgqVersion });
    new CfnOutput(this, 'LeafDatabaseSecretArn', { value: leafInstance.secret!.secretArn });
    new CfnOutput(this, 'LondisteCluster', { value: this.londisteRoot.cluster.clusterName });
    new CfnOutput(this, 'LondisteLeafService', { value: this.londisteLeaf.service.serviceName });
  }

  /** An example PostgreSQL 17 instance in the isolated subnets (encrypted, TLS only, rotated secret). */
  #instance(
    id: string,
    databaseName: string,
    vpc: ec2.IVpc,
    props: SkytoolsExampleStackProps,
  ): rds.DatabaseInstance {
    const instance = new rds.DatabaseInstance(this, id, {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
      instanceType: props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      credentials: rds.Credentials.fromGeneratedSecret('skytools'),
      databaseName,
      storageEncrypted: true,
      allocatedStorage: 20,
      backupRetention: Duration.days(7),
      deletionProtection: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      cloudwatchLogsExports: ['postgresql'],
      parameters: { 'rds.force_ssl': '1' },
    });
    instance.addRotationSingleUser({ automaticallyAfter: Duration.days(30) });
    Validations.of(instance).acknowledge(
      ...[
        {
          id: 'AwsSolutions-RDS3',
          reason: 'Example database: single-AZ keeps the cost at rest low; use Multi-AZ in production.',
        },
        {
          id: 'AwsSolutions::AwsSolutions-RDS11',
          reason:
            'The default port is fine here: the database is in isolated subnets, reachable only from our functions.',
        },
      ],
    );

    return instance;
  }
}

/** The group role owning the example's tables, created once (a repeated deploy finds it). */
function ownerRoleSql(owner: string): string[] {
  if (!/^[a-z_][a-z0-9_]*$/.test(owner)) throw new Error(`tableOwner ${owner}: a plain lowercase role name`);
  return [`do $$ begin create role ${owner}; exception when duplicate_object then null; end $$`];
}
