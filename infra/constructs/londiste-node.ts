// One node of a Londiste set on ECS Fargate: the replay worker as a service that never runs twice
// (desired 1, min 0 % / max 100 %, circuit breaker with rollback, plus the worker's own node lock
// in the database), a task definition the worker runs one copy job per table with (ECS RunTask,
// LONDISTE_LAUNCHER=ecs), the node's set-up and table registration as a custom resource, the
// node's login role, IAM scoped to exactly those resources, encrypted logs, alarms and metrics.
import path from 'node:path';
import {
  Annotations,
  ArnFormat,
  CustomResource,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { type DatabaseLogin, type DatabaseLoginOptions, functionLogin } from './database-login.ts';
import { ackInvokeVersions, FUNCTIONS_DIR, makeFunction, type PgqDatabase, REPO_ROOT } from './defaults.ts';
import {
  type LondisteNodeType,
  type LondisteTable,
  londisteGrants,
  normalizeTables,
} from './londiste-grants.ts';
import { LONDISTE_DIMENSIONS, LONDISTE_METRICS, londisteMetric } from './londiste-metrics.ts';
import { PgqAdmin, PgqDatabaseSql } from './pgq-admin.ts';

export type { LondisteNodeType, LondisteTable } from './londiste-grants.ts';

/** A provider that is not a LondisteNode of this app: where it is and the login to read it with. */
export interface LondisteProviderInfo {
  /** libpq connect string without password, e.g. `host=db-a port=5432 dbname=app user=l3_a sslmode=verify-full`. */
  readonly location: string;
  /** Secret (RDS JSON shape) whose password goes with `location`. */
  readonly secret: secretsmanager.ISecret;
  /** The provider database's connections: this node's tasks get ingress. @default none (open it yourself) */
  readonly connections?: ec2.IConnectable & { readonly connections: ec2.Connections };
}

export interface LondisteNodeProps extends DatabaseLoginOptions {
  /** This node's database (the PgQ, pgq_node and londiste schemas installed by its PgqSchema). */
  readonly database: PgqDatabase;
  /** The cascaded queue of the set. */
  readonly queue: string;
  /** This node's name in the set. */
  readonly nodeName: string;
  readonly nodeType: LondisteNodeType;
  /** Below the root: the node this one replicates from. Not for a root. */
  readonly provider?: LondisteNode | LondisteProviderInfo;
  /**
   * Tables to replicate, schema-qualified, as names or with handler and options. Added on every
   * deploy (idempotent); removed from the node only with removeTablesOnDelete. On a branch or leaf
   * they must exist (same columns) before the deploy.
   * @default none
   */
  readonly tables?: readonly (string | LondisteTable)[];
  /** Sequences to replicate, schema-qualified. @default none */
  readonly sequences?: readonly string[];
  /** Remove the tables and sequences from the node when they leave the list or the node is deleted. @default false */
  readonly removeTablesOnDelete?: boolean;
  /**
   * Group role that owns the node's tables; the login becomes its member. A copy drops and rebuilds
   * the destination's indexes and constraints, and remove-table drops triggers, which PostgreSQL
   * allows only to a table's owner.
   * @default none (the login holds only the grants: replay works, copies and removals do not)
   */
  readonly tableOwner?: string;
  /** Tables copied at the same time, each in its own Fargate task (LONDISTE_PARALLEL_COPIES). @default 4 */
  readonly parallelCopies?: number;
  /**
   * The job image (the repository's Dockerfile). Build it for linux/arm64.
   * @default ContainerImage.fromAsset of the repository (built by `cdk deploy`; `cdk synth` only stages it)
   */
  readonly image?: ecs.ContainerImage;
  /** Cluster of the worker and copy tasks (with Container Insights on: the worker alarm reads it). @default a cluster of its own in the database's VPC, Container Insights on */
  readonly cluster?: ecs.ICluster;
  /** Worker task size. @default 256 (0.25 vCPU) */
  readonly workerCpu?: number;
  /** @default 512 MiB */
  readonly workerMemoryMiB?: number;
  /** Copy task size (COPY streams, index rebuilds wait on the databases). @default 512 (0.5 vCPU) */
  readonly copyCpu?: number;
  /** @default 1024 MiB */
  readonly copyMemoryMiB?: number;
  /** Alarm when replay lags more than this (branch and leaf). @default 5 minutes */
  readonly lagThreshold?: Duration;
  /** Consecutive minutes above lagThreshold before the lag alarm fires. @default 5 */
  readonly lagEvaluationPeriods?: number;
  /** Where the alarms notify. @default no action (alarm state only) */
  readonly alarmTopic?: sns.ITopic;
  /** Retention of the worker's and copies' logs. @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** Key the log groups are encrypted with. @default a key of its own, rotated yearly */
  readonly logEncryptionKey?: kms.IKey;
  /** Extra environment of the worker and copy containers (no secrets: they are read by ARN). */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * SQL run on this node's database as its admin user before the node's login is made
   * (`PgqDatabaseSql`): on the root the tables' DDL, on every node the `tableOwner` role (and,
   * where the set-up creates tables, `grant create on schema … to <tableOwner>`). Must be safe to
   * run again; never undone.
   * @default none (tables and the owner role exist before the deploy)
   */
  readonly databaseSql?: readonly string[];
}

/** Why a table takes no copyCondition (layers/londiste/node-setup.ts says the same at deploy). */
const COPY_CONDITION_REFUSED =
  "copyCondition is not supported: which rows a copy takes is a handler's own decision (shard and part derive it from the node's shard info), no handler takes a condition as an argument, and the original's add-table has no such option; to copy a subset, use the shard or part handler (handlerArgs key or hash_key)";
/** Container and ids shared between the worker's RunTask and the copy task definition. */
const COPY_CONTAINER = 'copy';
const WORKER_CONTAINER = 'worker';
/** The image's unprivileged user (node's uid 1000 in node:24-slim), also forced here. */
const CONTAINER_USER = '1000:1000';

export class LondisteNode extends Construct {
  public readonly queue: string;
  public readonly nodeName: string;
  public readonly nodeType: LondisteNodeType;
  public readonly database: PgqDatabase;
  public readonly cluster: ecs.ICluster;
  public readonly service: ecs.FargateService;
  public readonly workerTaskDefinition: ecs.FargateTaskDefinition;
  public readonly copyTaskDefinition: ecs.FargateTaskDefinition;
  /** Security group of the worker and copy tasks. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The secret the worker, copies and set-up log in with; the nodes below read it too. */
  public readonly loginSecret: secretsmanager.ISecret;
  /** Its login role, unless you passed loginSecret. */
  public readonly login?: DatabaseLogin;
  /** Login role name on this node's database (what the nodes below connect as). */
  public readonly roleName?: string;
  /** The node set-up custom resource (Custom::LondisteNode) and its function. */
  public readonly setup: CustomResource;
  public readonly setupFunction: nodejs.NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly copyLogGroup: logs.LogGroup;
  /** Fires when the service runs no worker. */
  public readonly workerAlarm: cloudwatch.Alarm;
  /** Fires when replay lags more than lagThreshold (branch and leaf). */
  public readonly lagAlarm?: cloudwatch.Alarm;
  /** Fires when a copy task stops with an error. */
  public readonly copyFailureAlarm: cloudwatch.Alarm;
  /** The EventBridge rule matching failed copy tasks (the copy failure alarm counts its matches). */
  public readonly copyFailureRule: events.Rule;
  public readonly tables: readonly LondisteTable[];
  /** The statements of databaseSql, if given. */
  public readonly databaseSql?: PgqDatabaseSql;

  constructor(scope: Construct, id: string, props: LondisteNodeProps) {
    super(scope, id);
    this.queue = props.queue;
    this.nodeName = props.nodeName;
    this.nodeType = props.nodeType;
    this.database = props.database;
    this.tables = normalizeTables(props.tables ?? []);
    const sequences = props.sequences ?? [];
    if ((props.nodeType === 'root') !== (props.provider === undefined)) {
      throw new Error(
        `LondisteNode ${id}: ${props.nodeType === 'root' ? 'a root has no provider' : `a ${props.nodeType} needs its provider`}`,
      );
    }
    const parallel = props.parallelCopies ?? 4;
    if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) {
      throw new Error(`LondisteNode ${id}: parallelCopies must be an integer 1–64, got ${parallel}`);
    }
    if (props.loginSecret && props.tableOwner) {
      throw new Error(
        `LondisteNode ${id}: tableOwner applies only to a login created here, not to loginSecret`,
      );
    }
    const created = this.tables.filter((t) => t.create);
    if (created.length && props.nodeType === 'root') {
      throw new Error(
        `LondisteNode ${id}: create (${created[0]!.name}) applies below the root, which creates tables from its provider; give the root's DDL in databaseSql`,
      );
    }
    if (created.length && !props.tableOwner && !props.loginSecret) {
      throw new Error(
        `LondisteNode ${id}: tables with create (${created.map((t) => t.name).join(', ')}) need tableOwner, the role that will own them`,
      );
    }
    for (const t of this.tables) {
      // Not a prop (the type has none); refused here for plain JavaScript callers, as the set-up would.
      if ('copyCondition' in t) throw new Error(`LondisteNode ${id}: ${t.name}: ${COPY_CONDITION_REFUSED}`);
    }
    if (props.nodeType !== 'root' && this.tables.length > 0 && !props.tableOwner && !props.loginSecret) {
      Annotations.of(this).addWarningV2(
        'skytools:londisteTableOwner',
        'No tableOwner: the copy jobs cannot drop and rebuild the indexes of tables they do not own; ' +
          'give the role owning the tables (or bring a loginSecret that owns them).',
      );
    }

    const { secret, login } = functionLogin(this, 'londisteWorker', {
      ...props,
      nameSuffix: `${props.queue}_${props.nodeName}`,
      ...(props.loginSecret
        ? {}
        : {
            grants: londisteGrants(props.nodeType, this.tables, sequences),
            ...(props.tableOwner ? { memberOf: [props.tableOwner] } : {}),
          }),
    });
    this.loginSecret = secret;
    this.login = login;
    this.databaseSql = props.databaseSql?.length
      ? new PgqDatabaseSql(this, 'DatabaseSql', { database: props.database, statements: props.databaseSql })
      : undefined;
    // The login's grants name the tables and its memberships the owner role: both exist first.
    if (this.databaseSql && login) this.databaseSql.before(login.resource);
    this.roleName = login?.roleName;
    const provider = props.provider ? providerInfo(props.provider) : undefined;

    // Network: one group for the worker and its copies, admitted by this database and the provider's.
    this.securityGroup = new ec2.SecurityGroup(this, 'TasksSecurityGroup', {
      vpc: props.database.vpc,
      description: `skytools londiste ${props.queue}/${props.nodeName}: worker and copy tasks`,
      allowAllOutbound: true,
    });
    props.database.connections?.connections.allowDefaultPortFrom(
      this.securityGroup,
      `londiste ${props.nodeName} to its database`,
    );
    provider?.connections?.connections.allowDefaultPortFrom(
      this.securityGroup,
      `londiste ${props.nodeName} to its provider`,
    );

    this.cluster =
      props.cluster ??
      new ecs.Cluster(this, 'Cluster', {
        vpc: props.database.vpc,
        containerInsightsV2: ecs.ContainerInsights.ENABLED,
      });

    const key = props.logEncryptionKey ?? this.#logKey();
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.logGroup = new logs.LogGroup(this, 'WorkerLogs', { retention, encryptionKey: key });
    this.copyLogGroup = new logs.LogGroup(this, 'CopyLogs', { retention, encryptionKey: key });

    const image = props.image ?? ecs.ContainerImage.fromAsset(REPO_ROOT, { platform: Platform.LINUX_ARM64 });
    const subnets = props.database.vpc.selectSubnets(props.database.vpcSubnets);
    // The worker's consumer name: the set-up registers the node with it, the worker runs as it.
    const jobName = `${props.queue}_${props.nodeName}`;
    // What every job of the node reads (layers/londiste settings; no secrets: ARNs only).
    const common: Record<string, string> = {
      LONDISTE_QUEUE: props.queue,
      LONDISTE_NODE: props.nodeName,
      LONDISTE_NODE_TYPE: props.nodeType,
      LONDISTE_JOB_NAME: jobName,
      DB_SECRET_ARN: secret.secretArn,
      DATABASE_SSL: props.database.ssl ?? 'verify-full',
      ...(provider
        ? {
            LONDISTE_PROVIDER_LOCATION: provider.location,
            LONDISTE_PROVIDER_SECRET_ARN: provider.secret.secretArn,
          }
        : {}),
      LONDISTE_PARALLEL_COPIES: String(parallel),
      LOG_FORMAT: 'json',
      POWERTOOLS_METRICS_NAMESPACE: 'Skytools',
      ...props.environment,
    };

    this.copyTaskDefinition = this.#taskDefinition('CopyTask', {
      cpu: props.copyCpu ?? 512,
      memoryMiB: props.copyMemoryMiB ?? 1024,
      container: COPY_CONTAINER,
      image,
      // The worker overrides this with ["londiste","copy","<table>"] per RunTask.
      command: ['londiste', 'copy'],
      environment: common,
      logGroup: this.copyLogGroup,
      prefix: 'copy',
    });
    this.workerTaskDefinition = this.#taskDefinition('WorkerTask', {
      cpu: props.workerCpu ?? 256,
      memoryMiB: props.workerMemoryMiB ?? 512,
      container: WORKER_CONTAINER,
      image,
      command: ['londiste', 'worker'],
      environment: {
        ...common,
        LONDISTE_LAUNCHER: 'ecs',
        LONDISTE_COPY_TASK_DEFINITION: this.copyTaskDefinition.taskDefinitionArn,
        LONDISTE_COPY_CLUSTER: this.cluster.clusterArn,
        LONDISTE_COPY_SUBNETS: subnets.subnetIds.join(','),
        LONDISTE_COPY_SECURITY_GROUPS: this.securityGroup.securityGroupId,
        LONDISTE_COPY_CONTAINER: COPY_CONTAINER,
      },
      logGroup: this.logGroup,
      prefix: 'worker',
    });
    for (const td of [this.workerTaskDefinition, this.copyTaskDefinition]) {
      secret.grantRead(td.taskRole);
      provider?.secret.grantRead(td.taskRole);
    }
    this.#grantCopyLaunch();

    // Node set-up: create the node, add tables and sequences (functions/londiste-node).
    this.setupFunction = makeFunction(this, 'SetupFunction', {
      database: props.database,
      secret,
      entry: path.join(FUNCTIONS_DIR, 'londiste-node/handler.ts'),
      timeout: Duration.minutes(5),
      description: `skytools: Londiste node ${props.nodeName} of ${props.queue} (set-up, tables, sequences)`,
      environment: {
        ...common,
      },
    });
    provider?.secret.grantRead(this.setupFunction);
    provider?.connections?.connections.allowDefaultPortFrom(
      this.setupFunction,
      `londiste ${props.nodeName} set-up to its provider`,
    );
    const setupProvider = new cr.Provider(this, 'SetupProvider', {
      onEventHandler: this.setupFunction,
      logGroup: new logs.LogGroup(this, 'SetupProviderLogs', { retention, encryptionKey: key }),
    });
    Validations.of(setupProvider).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'CDK Provider framework function: AWSLambdaBasicExecutionRole only lets it write its own logs.',
    });
    ackInvokeVersions(setupProvider, this.setupFunction, 'The CDK Provider framework function');
    this.setup = new CustomResource(this, 'Setup', {
      serviceToken: setupProvider.serviceToken,
      resourceType: 'Custom::LondisteNode',
      properties: {
        Queue: props.queue,
        Node: props.nodeName,
        NodeType: props.nodeType,
        Worker: jobName,
        ...(provider ? { ProviderLocation: provider.location } : {}),
        Tables: this.tables.map((t) => ({ ...t })),
        Sequences: [...sequences],
        ...(props.tableOwner ? { TableOwner: props.tableOwner } : {}),
        RemoveTablesOnDelete: props.removeTablesOnDelete ?? false,
      },
    });
    // The login waits for the schema by itself; with your own loginSecret the set-up waits for a
    // PgqSchema of this database if the app declares one (the admin provider exists then).
    if (login) this.setup.node.addDependency(login.resource);
    else PgqAdmin.find(this, props.database)?.afterSchema(this.setup);
    if (this.databaseSql) this.databaseSql.before(this.setup);
    // Below the root: the provider node (its queue, tables and login) is there first.
    if (props.provider instanceof LondisteNode) this.setup.node.addDependency(props.provider.setup);

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.workerTaskDefinition,
      desiredCount: 1,
      // Never two workers of one node: the old task stops before the new one starts.
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      circuitBreaker: { rollback: true },
      vpcSubnets: props.database.vpcSubnets ?? { subnets: subnets.subnets },
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      platformVersion: ecs.FargatePlatformVersion.LATEST,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });
    this.service.node.addDependency(this.setup);

    // Alarms.
    const alarmAction = props.alarmTopic ? new cwActions.SnsAction(props.alarmTopic) : undefined;
    const withAction = (alarm: cloudwatch.Alarm) => {
      if (alarmAction) alarm.addAlarmAction(alarmAction);
      return alarm;
    };
    this.workerAlarm = withAction(
      new cloudwatch.Alarm(this, 'WorkerNotRunningAlarm', {
        alarmDescription: `Londiste ${props.queue}/${props.nodeName}: no replay worker running (see the service's events and the worker logs)`,
        metric: this.runningTasksMetric(),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 3,
        // No data means no task reported: as bad as zero.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
    if (props.nodeType !== 'root') {
      const threshold = props.lagThreshold ?? Duration.minutes(5);
      this.lagAlarm = withAction(
        new cloudwatch.Alarm(this, 'LagAlarm', {
          alarmDescription: `Londiste ${props.queue}/${props.nodeName}: replay lags more than ${threshold.toHumanString()}`,
          metric: this.metricLag(),
          threshold: threshold.toSeconds(),
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: props.lagEvaluationPeriods ?? 5,
          // A silent worker is the worker alarm's.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    const failures = this.#copyFailures();
    this.copyFailureRule = failures.rule;
    this.copyFailureAlarm = withAction(
      new cloudwatch.Alarm(this, 'CopyFailureAlarm', {
        alarmDescription: `Londiste ${props.queue}/${props.nodeName}: a copy task stopped with an error (the worker relaunches it; see the copy logs)`,
        metric: failures.metric,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /** Replay lag of this node, seconds (published by its worker). */
  metricLag(period?: Duration): cloudwatch.Metric {
    return londisteMetric(LONDISTE_METRICS.lag, this, 'Maximum', period);
  }

  /** Row events applied per second (published by its worker). */
  metricEventsApplied(period?: Duration): cloudwatch.Metric {
    return londisteMetric(LONDISTE_METRICS.eventsApplied, this, 'Average', period);
  }

  /** Copy tasks that failed, as the worker's ECS launcher counted them. */
  metricCopyFailures(period?: Duration): cloudwatch.Metric {
    return londisteMetric(LONDISTE_METRICS.copyFailures, this, 'Sum', period);
  }

  /** Copy jobs running (published by its worker). */
  metricCopiesRunning(period?: Duration): cloudwatch.Metric {
    return londisteMetric(LONDISTE_METRICS.copiesRunning, this, 'Maximum', period);
  }

  /** Tables in `state` (published by its worker). */
  metricTables(state: string, period?: Duration): cloudwatch.Metric {
    return londisteMetric(LONDISTE_METRICS.tables, this, 'Maximum', period, {
      [LONDISTE_DIMENSIONS.state]: state,
    });
  }

  /** Running worker tasks (Container Insights). */
  runningTasksMetric(): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: { ClusterName: this.cluster.clusterName, ServiceName: this.service.serviceName },
      statistic: 'Minimum',
      period: Duration.minutes(1),
    });
  }

  #logKey(): kms.Key {
    const key = new kms.Key(this, 'LogKey', {
      description: `skytools londiste ${this.queue}/${this.nodeName}: its log groups`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch Logs encrypts with it, only for this account's log groups.
    const stack = Stack.of(this);
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    return key;
  }

  #taskDefinition(
    id: string,
    o: {
      cpu: number;
      memoryMiB: number;
      container: string;
      image: ecs.ContainerImage;
      command: string[];
      environment: Record<string, string>;
      logGroup: logs.ILogGroup;
      prefix: string;
    },
  ): ecs.FargateTaskDefinition {
    const td = new ecs.FargateTaskDefinition(this, id, {
      cpu: o.cpu,
      memoryLimitMiB: o.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    td.addContainer(o.container, {
      containerName: o.container,
      image: o.image,
      command: o.command,
      environment: o.environment,
      user: CONTAINER_USER,
      readonlyRootFilesystem: true,
      essential: true,
      // SIGTERM: the worker stops its batch and copies cleanly within this.
      stopTimeout: Duration.seconds(60),
      logging: ecs.LogDrivers.awsLogs({ logGroup: o.logGroup, streamPrefix: o.prefix }),
    });
    Validations.of(td).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'Only non-secret settings are in the environment (names, ARNs, subnets); the job reads its database passwords from Secrets Manager by ARN.',
    });
    // The execution role exists once the container is added (image pull, awslogs).
    Validations.of(td.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'ECS execution role as aws-cdk-lib writes it: ecr:GetAuthorizationToken has no resource type (pulls are limited to the image repository, logs to its log group).',
    });
    return td;
  }

  /** The worker may run exactly its copy task definition in its cluster, watch and stop those tasks, and pass their roles. */
  #grantCopyLaunch(): void {
    const worker = this.workerTaskDefinition.taskRole;
    const copy = this.copyTaskDefinition;
    const clusterArn = this.cluster.clusterArn;
    worker.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:RunTask'],
        resources: [copy.taskDefinitionArn],
        conditions: { ArnEquals: { 'ecs:cluster': clusterArn } },
      }),
    );
    const tasksArn = Stack.of(this).formatArn({
      service: 'ecs',
      resource: 'task',
      resourceName: `${this.cluster.clusterName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    worker.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
        resources: [tasksArn],
        conditions: { ArnEquals: { 'ecs:cluster': clusterArn } },
      }),
    );
    // RunTask with tags (the launcher tags each copy with its node and table) needs TagResource
    // on the task it creates, and only there.
    worker.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:TagResource'],
        resources: [tasksArn],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      }),
    );
    // ListTasks takes no resource ARN: scoped by the cluster condition.
    worker.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:ListTasks'],
        resources: ['*'],
        conditions: { ArnEquals: { 'ecs:cluster': clusterArn } },
      }),
    );
    const passed = [copy.taskRole.roleArn, copy.obtainExecutionRole().roleArn];
    worker.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: passed,
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
    const clusterName = Token.isUnresolved(this.cluster.clusterName)
      ? 'the cluster'
      : this.cluster.clusterName;
    Validations.of(this.workerTaskDefinition).acknowledge(
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(this, tasksArn)}]`,
        reason: `The worker describes, stops and (in RunTask only) tags the copy tasks it starts; task ids are not known before, so the resource is every task of ${clusterName} (and the ecs:cluster / ecs:CreateAction conditions say the same).`,
      },
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason:
          'ecs:ListTasks has no resource type; the ecs:cluster condition limits it to the copy cluster.',
      },
    );
  }

  /** EventBridge: copy tasks that stopped with an error, kept in a log group and counted. */
  #copyFailures(): { rule: events.Rule; metric: cloudwatch.IMetric } {
    const rule = new events.Rule(this, 'CopyFailureRule', {
      description: `skytools londiste ${this.queue}/${this.nodeName}: copy tasks that stopped with an error`,
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: {
          clusterArn: [this.cluster.clusterArn],
          taskDefinitionArn: [this.copyTaskDefinition.taskDefinitionArn],
          lastStatus: ['STOPPED'],
          // Failed to start (image, network, secrets), or its container exited non-zero. A copy the
          // worker stopped on shutdown (StopTask: UserInitiated) is not a failure.
          $or: [
            { stopCode: ['TaskFailedToStart'] },
            { stopCode: ['EssentialContainerExited'], containers: { exitCode: [{ 'anything-but': 0 }] } },
          ],
        },
      },
    });
    // No target: the alarm counts the rule's matches (AWS/Events MatchedEvents); the copy's own
    // log stream says why it failed, and the worker relaunches it.
    const metric = new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'MatchedEvents',
      dimensionsMap: { RuleName: rule.ruleName },
      statistic: 'Sum',
      period: Duration.minutes(5),
    });
    return { rule, metric };
  }
}

/** Where a provider is and how to log in to it. */
function providerInfo(p: LondisteNode | LondisteProviderInfo): LondisteProviderInfo {
  if (!(p instanceof LondisteNode)) return p;
  if (!p.roleName) {
    throw new Error(
      `LondisteNode ${p.node.id} has a loginSecret of its own: give the nodes below it { location, secret } as provider`,
    );
  }
  // Named in the template (the set-up stores it in the node map), so from the endpoint, not the
  // secret: CloudFormation resolves no secret references in custom resource properties.
  const at = p.database.endpoint;
  if (!at) {
    throw new Error(
      `LondisteNode ${p.node.id} is a provider: give its PgqDatabase an endpoint { host, port, dbname }`,
    );
  }
  const ssl = p.database.ssl ?? 'verify-full';
  return {
    location: `host=${at.host} port=${at.port} dbname=${at.dbname} user=${p.roleName} sslmode=${ssl}`,
    secret: p.loginSecret,
    ...(p.database.connections ? { connections: p.database.connections } : {}),
  };
}

/**
 * An ARN as cdk-nag names it in a finding id: pseudo parameters and references as
 * `<AWS::Region>` / `<LogicalId>`, resolved values (an explicit env's region) as they are.
 */
function nagArn(scope: Construct, arn: string): string {
  const stack = Stack.of(scope);
  const resolved = stack.resolve(arn) as unknown;
  const part = (p: unknown): string => {
    if (typeof p === 'string') return p;
    const o = p as Record<string, unknown>;
    if (typeof o.Ref === 'string') return `<${o.Ref}>`;
    const getAtt = o['Fn::GetAtt'] as string[] | undefined;
    if (getAtt) return `<${getAtt.join('.')}>`;
    throw new Error(`nagArn: unexpected ${JSON.stringify(p)}`);
  };
  if (typeof resolved === 'string') return resolved;
  const join = (resolved as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return part(resolved);
  return join[1].map(part).join(join[0]);
}
