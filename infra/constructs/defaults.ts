// Secure defaults shared by the constructs, in one place: newest Node runtime, ARM, esbuild
// bundling on this machine (never Docker), source maps, bounded log retention (bundledFunction,
// for any function); PgQ's functions in the database's VPC with its credentials readable and
// nothing else (makeFunction).
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
  /**
   * Secret with the RDS JSON shape (host, port, dbname, username, password) of a user that may
   * install the schema and create roles (on RDS the master user). Only the admin custom resource
   * reads it; every other function logs in with a secret of its own (database-login.ts).
   */
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
  /**
   * Where the database is, for what must name it in the template (a Londiste provider's
   * location, e.g. an RDS instance's `dbInstanceEndpointAddress` / `dbInstanceEndpointPort`).
   * @default unknown at synth (only the functions read the host from the secret)
   */
  readonly endpoint?: { readonly host: string; readonly port: string; readonly dbname: string };
}

/** What every bundled function of ours may tune, whatever it runs. */
export interface FunctionOptions {
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

/** The PgQ constructs' function options (no more than any function's). */
export type PgqFunctionOptions = FunctionOptions;

export interface BundledFunctionProps extends FunctionOptions {
  /** The handler module (a functions/<name>/handler.ts). */
  readonly entry: string;
  /** @default 'handler' */
  readonly handler?: string;
  readonly timeout: Duration;
  readonly description: string;
  /** VPC to run in. @default none (the function reaches only public AWS endpoints) */
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
}

/**
 * A function bundled from this repository, knowing nothing of what it runs: its own log group
 * (bounded retention), nodejs24.x on ARM, an ESM bundle built here by esbuild (never Docker) with
 * source maps, Powertools' metrics namespace, and the findings every function has acknowledged.
 * Tool-specific wiring (a database's VPC, secret and TLS) is the caller's, e.g. makeFunction.
 */
export function bundledFunction(
  scope: Construct,
  id: string,
  props: BundledFunctionProps,
): nodejs.NodejsFunction {
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
    vpc: props.vpc,
    vpcSubnets: props.vpcSubnets,
    projectRoot: REPO_ROOT,
    depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
    environment: {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_METRICS_NAMESPACE: 'Skytools',
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
  suppressFunctionFindings(fn, props.vpc !== undefined);
  return fn;
}

export interface MakeFunctionProps extends Omit<BundledFunctionProps, 'vpc' | 'vpcSubnets'> {
  readonly database: PgqDatabase;
  /** The secret the function logs in with (its own login, see database-login.ts). @default the database's secret */
  readonly secret?: secretsmanager.ISecret;
  /** Host override (consumers may go through RDS Proxy). */
  readonly host?: string;
}

/**
 * A PgQ function: a bundled function in the database's VPC, with the one secret it logs in with
 * readable, ingress to the database opened, and the database settings of layers/aws (secret,
 * TLS mode, host override) set.
 */
export function makeFunction(scope: Construct, id: string, props: MakeFunctionProps): nodejs.NodejsFunction {
  const { database, host, secret = database.secret, ...rest } = props;
  const fn = bundledFunction(scope, id, {
    ...rest,
    vpc: database.vpc,
    vpcSubnets: database.vpcSubnets,
    environment: {
      DATABASE_SECRET_ARN: secret.secretArn,
      DATABASE_SSL: database.ssl ?? 'verify-full',
      // The RDS CA bundle shipped in the runtime, for verify-full.
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      ...(host ? { DATABASE_HOST: host } : {}),
      ...props.environment,
    },
  });
  secret.grantRead(fn);
  database.connections?.connections.allowDefaultPortFrom(fn, `${id} to the database`);
  return fn;
}

/**
 * The findings every function of ours has, with the reason each is accepted: the basic execution
 * role, and for a function in a VPC the VPC access role.
 */
export function suppressFunctionFindings(fn: lambda.Function, inVpc = true): void {
  if (!inVpc) {
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'AWS-maintained minimum for a function: AWSLambdaBasicExecutionRole writes its own log streams.',
    });
    return;
  }
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
