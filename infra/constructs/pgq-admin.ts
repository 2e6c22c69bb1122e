// Custom resources against the database: one provider per stack and database (schema install,
// consumer registration, the functions' login roles), backed by functions/admin/handler.ts
// through the CDK Provider framework. Its function is the only one that reads the database's
// (master) secret.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import {
  ackInvokeVersions,
  FUNCTIONS_DIR,
  makeFunction,
  type PgqDatabase,
  type PgqFunctionOptions,
  REPO_ROOT,
} from './defaults.ts';

export interface PgqAdminProps extends PgqFunctionOptions {
  readonly database: PgqDatabase;
}

export class PgqAdmin extends Construct {
  /** The onEvent function: the one function that logs in with the database's (master) secret. */
  public readonly function: nodejs.NodejsFunction;
  public readonly provider: cr.Provider;
  #schema: PgqSchema | undefined;
  readonly #needSchema: Construct[] = [];

  /** The stack's admin provider for this database, created on first use. */
  static of(scope: Construct, database: PgqDatabase): PgqAdmin {
    return PgqAdmin.find(scope, database) ?? new PgqAdmin(Stack.of(scope), adminId(database), { database });
  }

  /** The stack's admin provider for this database if something created it already. */
  static find(scope: Construct, database: PgqDatabase): PgqAdmin | undefined {
    return Stack.of(scope).node.tryFindChild(adminId(database)) as PgqAdmin | undefined;
  }

  constructor(scope: Construct, id: string, props: PgqAdminProps) {
    super(scope, id);
    this.function = makeFunction(this, 'OnEvent', {
      ...props,
      entry: path.join(FUNCTIONS_DIR, 'admin/handler.ts'),
      timeout: Duration.minutes(5),
      description: 'skytools: schema install, consumer registration and login roles (custom resources)',
    });
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.function,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention: logs.RetentionDays.ONE_MONTH }),
    });
    Validations.of(this.provider).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'CDK Provider framework function: AWSLambdaBasicExecutionRole only lets it write its own logs.',
    });
    ackInvokeVersions(this.provider, this.function, 'The CDK Provider framework function');
  }

  /** Makes `resource` wait for this database's PgqSchema (now, or once one is declared). */
  afterSchema(resource: Construct): void {
    if (this.#schema) resource.node.addDependency(this.#schema);
    else this.#needSchema.push(resource);
  }

  /** Called by PgqSchema: what was waiting for the schema now depends on it. */
  schemaDeclared(schema: PgqSchema): void {
    this.#schema = schema;
    for (const r of this.#needSchema.splice(0)) r.node.addDependency(schema);
  }
}

function adminId(database: PgqDatabase): string {
  return `PgqAdmin${database.secret.node.addr}`;
}

export interface PgqSchemaProps {
  readonly database: PgqDatabase;
}

/** Installs (on create) and upgrades (when the SQL changes) the schema; never drops it. */
export class PgqSchema extends Construct {
  public readonly resource: CustomResource;
  /** The pgq version reported by the installed schema. */
  public readonly pgqVersion: string;

  constructor(scope: Construct, id: string, props: PgqSchemaProps) {
    super(scope, id);
    const sql = readFileSync(path.join(REPO_ROOT, 'layers/install/generated-sql.ts'));
    const admin = PgqAdmin.of(this, props.database);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: admin.provider.serviceToken,
      resourceType: 'Custom::PgqSchema',
      properties: { Action: 'install', SqlHash: createHash('sha256').update(sql).digest('hex').slice(0, 16) },
    });
    this.pgqVersion = this.resource.getAttString('PgqVersion');
    // The login roles are members of the roles the install creates.
    admin.schemaDeclared(this);
  }
}

export interface PgqDatabaseSqlProps {
  readonly database: PgqDatabase;
  /**
   * SQL run as the database's admin user (the master secret), in order, in one transaction, on
   * create and whenever the list changes. Must be safe to run again (`create table if not exists`,
   * a `do` block that ignores `duplicate_object` for `create role`); nothing is undone on delete.
   * Plain text in the template: no secrets.
   */
  readonly statements: readonly string[];
}

/**
 * What the database needs before the functions' login roles are applied: the tables they are
 * granted, the group roles they join (layers/pgq/lambda/database-sql.ts). Runs after the
 * database's PgqSchema when the app declares one; make the logins depend on it (`before`).
 */
export class PgqDatabaseSql extends Construct {
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: PgqDatabaseSqlProps) {
    super(scope, id);
    if (props.statements.length === 0 || props.statements.some((s) => !s.trim())) {
      throw new Error(`PgqDatabaseSql ${id}: statements must be a non-empty list of non-empty SQL strings`);
    }
    const admin = PgqAdmin.of(this, props.database);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: admin.provider.serviceToken,
      resourceType: 'Custom::PgqDatabaseSql',
      properties: { Action: 'sql', Statements: [...props.statements] },
    });
    // Group roles it grants may come from the schema (pgq_reader, …); tables may use its types.
    admin.afterSchema(this.resource);
  }

  /** Makes `resource` (e.g. a login role) wait for these statements. */
  before(resource: Construct): void {
    resource.node.addDependency(this.resource);
  }
}
