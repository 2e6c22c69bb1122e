// A user's consumer as a Lambda function: the user's entry (bundled with esbuild) wrapped by
// pgqConsumer, an SQS FIFO wake-up queue (message group = consumer, so the consumer never runs
// twice at once; with subconsumers: N, one group per subconsumer, so up to N run at once) with a DLQ and an alarm on it, the event source mapping (batchItemFailures),
// the consumer's registration on its queue (custom resource), and its login role: pgq_reader plus
// the grants its props declare on its target tables.
import { CustomResource, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { RelationGrants } from '../../layers/pgq/lambda/role-spec.ts';
import { type DatabaseLogin, type DatabaseLoginOptions, functionLogin } from './database-login.ts';
import { makeFunction, type PgqDatabase, type PgqFunctionOptions } from './defaults.ts';
import { PgqAdmin } from './pgq-admin.ts';
import type { PgqTicker } from './pgq-ticker.ts';

export interface PgqConsumerFunctionProps extends PgqFunctionOptions, DatabaseLoginOptions {
  readonly database: PgqDatabase;
  /** PgQ queue to consume. */
  readonly queue: string;
  /** Consumer name (also the SQS message group). */
  readonly consumer: string;
  /** The user's handler file (TypeScript or JavaScript), e.g. exporting consumerHandler({ handler }). */
  readonly entry: string;
  /** Exported handler name. @default 'handler' */
  readonly handler?: string;
  /** The ticker whose ticks wake this consumer. @default none (wake it yourself) */
  readonly ticker?: PgqTicker;
  /** @default 1 minute */
  readonly timeout?: Duration;
  /** Wake-up messages per invocation (all are equivalent). @default 10 */
  readonly batchSize?: number;
  /** Failed invocations of one message before it goes to the DLQ. @default 5 */
  readonly maxReceiveCount?: number;
  /** Register the consumer (and create the queue) at deploy time. @default true */
  readonly register?: boolean;
  /** Unregister the consumer when this resource is deleted (drops its position). @default false */
  readonly unregisterOnDelete?: boolean;
  /** Where the DLQ alarm notifies. @default no action (alarm state only) */
  readonly alarmTopic?: sns.ITopic;
  /** Start a batch only while more than this much invocation time is left. @default 10 seconds */
  readonly minRemaining?: Duration;
  /**
   * Subconsumers of a cooperative consumer (pgq_coop): N > 1 makes the ticker send N wake-ups
   * per tick, one per message group `<consumer>.1` … `<consumer>.N`, so up to N instances of the
   * function share the consumer's batches (each batch to one of them). Sets PGQ_SUBCONSUMERS.
   * @default 1 (a plain consumer: one instance at a time)
   */
  readonly subconsumers?: number;
  /** Cooperative consumer: take over the batch of a subconsumer silent this long. @default never */
  readonly deadInterval?: Duration;
  /**
   * What the handler may do to your tables, by schema-qualified name, e.g.
   * `{ 'public.order_audit': ['insert', 'update'], 'public.order_audit_id_seq': ['usage'] }`
   * (a serial column's sequence needs usage; an UPDATE or DELETE with a WHERE needs select).
   * The tables must exist before the deploy. Granted to the consumer's own role, which can do
   * nothing else with your data. Not with loginSecret (your role has its own grants).
   * @default none (the handler may only read and finish its batches)
   */
  readonly grants?: RelationGrants;
  /** Group roles besides pgq_reader, e.g. `['pgq_writer']` for a handler that produces events. @default none */
  readonly memberOf?: readonly string[];
}

export class PgqConsumerFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly wakeupQueue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly alarm: cloudwatch.Alarm;
  public readonly registration?: CustomResource;
  public readonly queue: string;
  public readonly consumer: string;
  /** The secret the function logs in with (and only it reads); register it with your RDS Proxy when using one. */
  public readonly loginSecret: secretsmanager.ISecret;
  /** Its login role, unless you passed loginSecret. */
  public readonly login?: DatabaseLogin;

  constructor(scope: Construct, id: string, props: PgqConsumerFunctionProps) {
    super(scope, id);
    this.queue = props.queue;
    this.consumer = props.consumer;
    const timeout = props.timeout ?? Duration.minutes(1);
    const subconsumers = props.subconsumers ?? 1;
    if (!Number.isInteger(subconsumers) || subconsumers < 1) {
      throw new Error(
        `PgqConsumerFunction ${id}: subconsumers must be a positive integer, got ${subconsumers}`,
      );
    }
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.wakeupQueue = new sqs.Queue(this, 'Wakeups', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Wake-ups are only "look now"; an old one is worthless.
      retentionPeriod: Duration.hours(1),
      // AWS recommends ≥ 6× the function timeout for SQS event sources.
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
    const { secret, login } = functionLogin(this, 'consumer', {
      ...props,
      nameSuffix: `${props.queue}_${props.consumer}`,
    });
    this.loginSecret = secret;
    this.login = login;
    this.function = makeFunction(this, 'Function', {
      ...props,
      secret,
      timeout,
      host: props.database.consumerHost,
      description: `skytools: PgQ consumer ${props.consumer} of ${props.queue}`,
      environment: {
        PGQ_QUEUE: props.queue,
        PGQ_CONSUMER: props.consumer,
        PGQ_MIN_REMAINING: String((props.minRemaining ?? Duration.seconds(10)).toSeconds()),
        PGQ_CONTINUE_QUEUE_URL: this.wakeupQueue.queueUrl,
        ...(subconsumers > 1 ? { PGQ_SUBCONSUMERS: String(subconsumers) } : {}),
        ...(props.deadInterval ? { PGQ_DEAD_INTERVAL: String(props.deadInterval.toSeconds()) } : {}),
        ...props.environment,
      },
    });
    if (login) this.function.node.addDependency(login.resource);
    this.function.addEventSource(
      new SqsEventSource(this.wakeupQueue, {
        batchSize: props.batchSize ?? 10,
        reportBatchItemFailures: true,
      }),
    );
    // When time runs short with batches left, the function wakes itself.
    this.wakeupQueue.grantSendMessages(this.function);
    props.ticker?.addConsumer({
      queue: props.queue,
      consumer: props.consumer,
      wakeupQueue: this.wakeupQueue,
      ...(subconsumers > 1 ? { subconsumers } : {}),
    });

    this.alarm = new cloudwatch.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `PgQ consumer ${props.consumer} of ${props.queue}: wake-ups failed ${props.maxReceiveCount ?? 5} times (see the function's logs)`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) this.alarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));

    if (props.register ?? true) {
      this.registration = new CustomResource(this, 'Registration', {
        serviceToken: PgqAdmin.of(this, props.database).provider.serviceToken,
        resourceType: 'Custom::PgqConsumer',
        properties: {
          Action: 'register-consumer',
          Queue: props.queue,
          Consumer: props.consumer,
          UnregisterOnDelete: String(props.unregisterOnDelete ?? false),
        },
      });
      PgqAdmin.of(this, props.database).afterSchema(this.registration);
      // Register before the first wake-up can arrive.
      this.function.node.addDependency(this.registration);
    }
  }
}
