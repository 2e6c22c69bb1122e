// Scheduled PgQ maintenance: retry events and pgq.maint_operations() (rotation, VACUUM) with a
// longer timeout than the ticker's; two runs never overlap (advisory lock).
import path from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type DatabaseLogin, type DatabaseLoginOptions, functionLogin } from './database-login.ts';
import {
  ackInvokeVersions,
  FUNCTIONS_DIR,
  makeFunction,
  type PgqDatabase,
  type PgqFunctionOptions,
} from './defaults.ts';

/** Maintenance logs in as a role of its own, a member of pgq_admin (FUNCTION_ROLES.maintenance). */
export interface PgqMaintenanceProps extends PgqFunctionOptions, DatabaseLoginOptions {
  readonly database: PgqDatabase;
  /** @default rate(5 minutes) */
  readonly schedulePeriod?: Duration;
  /** @default 5 minutes */
  readonly timeout?: Duration;
}

export class PgqMaintenance extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly schedule: scheduler.Schedule;
  /** The secret the function logs in with (and only it reads). */
  public readonly loginSecret: secretsmanager.ISecret;
  /** Its login role, unless you passed loginSecret. */
  public readonly login?: DatabaseLogin;

  constructor(scope: Construct, id: string, props: PgqMaintenanceProps) {
    super(scope, id);
    const { secret, login } = functionLogin(this, 'maintenance', { ...props, nameSuffix: 'maintenance' });
    this.loginSecret = secret;
    this.login = login;
    this.function = makeFunction(this, 'Function', {
      ...props,
      secret,
      entry: path.join(FUNCTIONS_DIR, 'maintenance/handler.ts'),
      timeout: props.timeout ?? Duration.minutes(5),
      description: 'skytools: PgQ retry and maintenance steps',
    });
    if (login) this.function.node.addDependency(login.resource);
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule: scheduler.ScheduleExpression.rate(props.schedulePeriod ?? Duration.minutes(5)),
      description: 'skytools maintenance',
      target: new targets.LambdaInvoke(this.function, { retryAttempts: 0 }),
    });
    // The schedule's role is shared per stack (created by aws-cdk-lib at the stack level).
    ackInvokeVersions(Stack.of(this), this.function, 'The EventBridge Scheduler role of the maintenance');
  }
}
