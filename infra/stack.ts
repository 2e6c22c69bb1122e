// The example deployment: a VPC without NAT (functions reach Secrets Manager and SQS through
// interface endpoints), an encrypted PostgreSQL instance with a rotated secret, the schema
// installed by a custom resource, the ticker, maintenance, one consumer function and the
// dashboard.
import path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import type { Construct } from 'constructs';
import { SkytoolsDashboard } from './constructs/dashboard.ts';
import { FUNCTIONS_DIR, type PgqDatabase } from './constructs/defaults.ts';
import { PgqSchema } from './constructs/pgq-admin.ts';
import { PgqConsumerFunction } from './constructs/pgq-consumer-function.ts';
import { PgqMaintenance } from './constructs/pgq-maintenance.ts';
import { PgqTicker } from './constructs/pgq-ticker.ts';

export interface SkytoolsExampleStackProps extends StackProps {
  /** Queue of the example consumer. @default 'example' */
  readonly queue?: string;
  /** @default db.t4g.micro */
  readonly instanceType?: ec2.InstanceType;
}

export class SkytoolsExampleStack extends Stack {
  public readonly database: PgqDatabase;
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
    ] as const) {
      const endpoint = vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true });
      Validations.of(endpoint).acknowledge({
        id: 'AwsSolutions::AwsSolutions-EC23',
        reason:
          'cdk-nag cannot resolve the VPC CIDR token: the endpoint only admits HTTPS from inside the VPC.',
      });
    }

    const instance = new rds.DatabaseInstance(this, 'Database', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
      instanceType: props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      credentials: rds.Credentials.fromGeneratedSecret('skytools'),
      databaseName: 'skytools',
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

    this.database = { secret: instance.secret!, vpc, connections: instance, ssl: 'verify-full' };
    const schema = new PgqSchema(this, 'Schema', { database: this.database });

    this.ticker = new PgqTicker(this, 'Ticker', { database: this.database });
    this.maintenance = new PgqMaintenance(this, 'Maintenance', { database: this.database });
    this.consumer = new PgqConsumerFunction(this, 'ExampleConsumer', {
      database: this.database,
      queue,
      consumer: 'example_consumer',
      entry: path.join(FUNCTIONS_DIR, 'example-consumer/handler.ts'),
      ticker: this.ticker,
    });
    this.dashboard = new SkytoolsDashboard(this, 'Dashboard', {
      ticker: this.ticker,
      consumers: [this.consumer],
    });

    new CfnOutput(this, 'DatabaseSecretArn', { value: instance.secret!.secretArn });
    new CfnOutput(this, 'TickerFunctionName', { value: this.ticker.function.functionName });
    new CfnOutput(this, 'ConsumerWakeupQueueUrl', { value: this.consumer.wakeupQueue.queueUrl });
    new CfnOutput(this, 'PgqVersion', { value: schema.pgqVersion });
  }
}
