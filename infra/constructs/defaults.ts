// Secure defaults shared by the constructs, in one place: newest Node runtime, ARM, esbuild
// bundling on this machine (never Docker), source maps, bounded log retention, functions in the
// database's VPC with its credentials readable and nothing else.
import path from 'node:path';
import { type CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/** Repository root (functions/ and layers/ live there). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const FUNCTIONS_DIR = path.join(REPO_ROOT, 'functions');

/** nodejs24.x: the newest Lambda Node runtime aws-cdk-lib knows (Node 20 is end of life). */
export const DEFAULT_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** The database the functions talk to. */
export interface PgqDatabase {
  /** Secret with the RDS JSON shape (host, port, dbname, username, password). */
  readonly secret: secretsmanager.ISecret;
  /** VPC the functions run in (the database must be reachable from it). */
  readonly vpc: ec2.IVpc;
  /** Subnets for the functions. @default private subnets with egress, else isolated ones */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The database's connections: functions get ingress on its default port. @default none (open it yourself) */
  readonly connections?: ec2.IConnectable & { readonly connections: ec2.Connections };
  /**
   * Host for consumers instead of the secret's (e.g. an RDS Proxy endpoint). The ticker always
   * uses the secret's host: its advisory lock is session state, which a proxy would pin.
   * @default the secret's host
   */
  readonly consumerHost?: string;
  /** TLS to the database: verify-full, require or disable. @default verify-full */
  readonly ssl?: 'verify-full' | 'require' | 'disable';
}

export interface PgqFunctionOptions {
  /** @default nodejs24.x */
  readonly runtime?: lambda.Runtime;
  /** @default ARM_64 (cheaper per GB-second) */
  readonly architecture?: lambda.Architecture;
  /** @default 256 */
  readonly memorySize?: number;
  /** Log retention. @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** Extra environment variables. */
  readonly environment?: Record<string, string>;
}

export interface MakeFunctionProps extends PgqFunctionOptions {
  readonly database: PgqDatabase;
  readonly entry: string;
  readonly handler?: string;
  readonly timeout: Duration;
  readonly description: string;
  /** Host override (consumers may go through RDS Proxy). */
  readonly host?: string;
}

export function makeFunction(scope: Construct, id: string, props: MakeFunctionProps): nodejs.NodejsFunction {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
  });
  const fn = new nodejs.NodejsFunction(scope, id, {
    entry: props.entry,
    handler: props.handler ?? 'handler',
    description: props.description,
    runtime: props.runtime ?? DEFAULT_RUNTIME,
    architecture: props.architecture ?? lambda.Architecture.ARM_64,
    memorySize: props.memorySize ?? 256,
    timeout: props.timeout,
    logGroup,
    vpc: props.database.vpc,
    vpcSubnets: props.database.vpcSubnets,
    projectRoot: REPO_ROOT,
    depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
    environment: {
      DATABASE_SECRET_ARN: props.database.secret.secretArn,
      DATABASE_SSL: props.database.ssl ?? 'verify-full',
      // The RDS CA bundle shipped in the runtime, for verify-full.
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_METRICS_NAMESPACE: 'Skytools',
      ...(props.host ? { DATABASE_HOST: props.host } : {}),
      ...props.environment,
    },
    bundling: {
      forceDockerBundling: false,
      format: nodejs.OutputFormat.ESM,
      target: 'node24',
      minify: true,
      sourceMap: true,
      mainFields: ['module', 'main'],
      // The AWS SDK v3 is part of the runtime; pg's optional native binding is never used.
      externalModules: ['@aws-sdk/*', 'pg-native'],
      banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  props.database.secret.grantRead(fn);
  props.database.connections?.connections.allowDefaultPortFrom(fn, `${id} to the database`);
  suppressFunctionFindings(fn);
  return fn;
}

/** The findings every function of ours has, with the reason each is accepted. */
export function suppressFunctionFindings(fn: lambda.Function): void {
  const why =
    'AWS-maintained minimum for a VPC function: AWSLambdaBasicExecutionRole writes its own log ' +
    'streams, AWSLambdaVPCAccessExecutionRole manages its network interfaces.';
  Validations.of(fn).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: why,
    },
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      reason: why,
    },
  );
}

/**
 * Acknowledges the `<function arn>:*` wildcard a grant to invoke `fn` carries (it covers the
 * function's versions and aliases, nothing else), on `scope` (the scheduler's role is created at
 * the stack level, so scope is the stack there).
 */
export function ackInvokeVersions(scope: Construct, fn: lambda.IFunction, who: string): void {
  const logicalId = Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnElement);
  Validations.of(scope).acknowledge({
    id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
    reason: `${who} may invoke ${fn.node.path} and its versions (<arn>:*), nothing else.`,
  });
}

export function stackName(scope: Construct): string {
  return Stack.of(scope).stackName;
}

export { Duration };
