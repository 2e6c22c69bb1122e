// The ticker: an EventBridge Scheduler schedule invokes functions/ticker every minute; each run
// ticks every tickPeriod until shortly before the next run, under the database's single-runner
// guard, and sends a wake-up to the SQS queue of every consumer added with addConsumer().
import path from 'node:path';
import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type DatabaseLogin, type DatabaseLoginOptions, functionLogin } from './database-login.ts';
import {
  ackInvokeVersions,
  FUNCTIONS_DIR,
  makeFunction,
  type PgqDatabase,
  type PgqFunctionOptions,
} from './defaults.ts';

/** The ticker logs in as a role of its own, a member of pgq_admin (FUNCTION_ROLES.ticker). */
export interface PgqTickerProps extends PgqFunctionOptions, DatabaseLoginOptions {
  readonly database: PgqDatabase;
  /** Time between ticks. @default 1 second (sub-second works, down to ~10 ms) */
  readonly tickPeriod?: Duration;
  /** How often due retry events are moved back. @default 30 seconds */
  readonly retryPeriod?: Duration;
  /** How often maintenance steps run. @default 2 minutes */
  readonly maintPeriod?: Duration;
  /** Schedule of the invocations; each runs until shortly before the next. @default rate(1 minute) */
  readonly schedulePeriod?: Duration;
  /** Function timeout; must exceed the schedule period a little. @default schedulePeriod + 10 s */
  readonly timeout?: Duration;
}

export interface WakeupTarget {
  readonly queue: string;
  readonly consumer: string;
  readonly wakeupQueue: sqs.IQueue;
  /** Cooperative consumer: N > 1 wake-ups per tick, message groups `<consumer>.1` … `<consumer>.N`. @default 1 */
  readonly subconsumers?: number;
}

export class PgqTicker extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly schedule: scheduler.Schedule;
  /** The secret the function logs in with (and only it reads). */
  public readonly loginSecret: secretsmanager.ISecret;
  /** Its login role, unless you passed loginSecret. */
  public readonly login?: DatabaseLogin;
  readonly #targets: WakeupTarget[] = [];

  constructor(scope: Construct, id: string, props: PgqTickerProps) {
    super(scope, id);
    const period = props.schedulePeriod ?? Duration.minutes(1);
    const stack = Stack.of(this);
    const { secret, login } = functionLogin(this, 'ticker', { ...props, nameSuffix: 'ticker' });
    this.loginSecret = secret;
    this.login = login;
    this.function = makeFunction(this, 'Function', {
      ...props,
      secret,
      entry: path.join(FUNCTIONS_DIR, 'ticker/handler.ts'),
      timeout: props.timeout ?? period.plus(Duration.seconds(10)),
      description: 'skytools: PgQ ticker (pgqd loop per invocation) and consumer wake-ups',
      environment: {
        PGQ_TICK_PERIOD: String((props.tickPeriod ?? Duration.seconds(1)).toMilliseconds() / 1000),
        PGQ_RETRY_PERIOD: String((props.retryPeriod ?? Duration.seconds(30)).toSeconds()),
        PGQ_MAINT_PERIOD: String((props.maintPeriod ?? Duration.minutes(2)).toSeconds()),
        PGQ_SCHEDULE_PERIOD: String(period.toSeconds()),
        PGQ_WAKEUP_TARGETS: Lazy.string({
          produce: () =>
            stack.toJsonString(
              this.#targets.map((t) => ({
                queue: t.queue,
                consumer: t.consumer,
                queueUrl: t.wakeupQueue.queueUrl,
                ...(t.subconsumers && t.subconsumers > 1 ? { subconsumers: t.subconsumers } : {}),
              })),
            ),
        }),
        ...props.environment,
      },
    });
    if (login) this.function.node.addDependency(login.resource);
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule: scheduler.ScheduleExpression.rate(period),
      description: 'skytools ticker',
      target: new targets.LambdaInvoke(this.function, {
        // The handler stops before the next scheduled run, measured from this time.
        input: scheduler.ScheduleTargetInput.fromObject({ time: scheduler.ContextAttribute.scheduledTime }),
        // A missed run is covered by the next one a minute later.
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    });
    // The schedule's role is shared per stack (created by aws-cdk-lib at the stack level).
    ackInvokeVersions(Stack.of(this), this.function, 'The EventBridge Scheduler role of the ticker');
  }

  /** Wake this SQS FIFO queue (message group = consumer, or one per subconsumer) on each new tick of `queue`. */
  addConsumer(target: WakeupTarget): void {
    this.#targets.push(target);
    target.wakeupQueue.grantSendMessages(this.function);
  }
}
