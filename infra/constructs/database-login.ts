// Least privilege inside the database: each deployed function logs in as a role of its own, with
// its own generated and rotated secret, which only that function may read. FUNCTION_ROLES says
// what each kind of function is in the database; DatabaseLogin declares one role (the admin
// custom resource applies it on every deploy, see layers/pgq/lambda/roles.ts); functionLogin is
// what a construct calls to get the secret its function reads (the user's own, or a new login).
import { createHash } from 'node:crypto';
import { CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { checkRoleName, checkRoleSpec, type RelationGrants } from '../../layers/pgq/lambda/role-spec.ts';
import type { PgqDatabase } from './defaults.ts';
import { PgqAdmin } from './pgq-admin.ts';

/**
 * What each kind of deployed function is inside the database: the group roles (of the original
 * PgQ, created by the schema install; sql/pgq/grants.sql says what each may do) its login role
 * is a member of. Table grants come on top, from the function's props. One entry per kind.
 */
export const FUNCTION_ROLES = {
  /** pgq.ticker(), retry and maintenance steps, queue and consumer info for the metrics. */
  ticker: { memberOf: ['pgq_admin'] },
  /** pgq.maint_retry_events(), pgq.maint_operations() and its steps. */
  maintenance: { memberOf: ['pgq_admin'] },
  /** next_batch … finish_batch, event retry, pgq_coop; its target tables through `grants`. */
  consumer: { memberOf: ['pgq_reader'] },
  /**
   * A LondisteNode's worker, copy jobs and set-up: londiste_writer (in pgq_admin: its node's
   * queue, pgq_node and londiste calls), pgq_reader (the nodes below consume its queue with this
   * login); the node's tables come as grants (constructs/londiste-grants.ts).
   */
  londisteWorker: { memberOf: ['pgq_reader', 'londiste_writer'] },
} as const satisfies Record<string, { readonly memberOf: readonly string[] }>;

export type FunctionKind = keyof typeof FUNCTION_ROLES;

/** Characters left out of generated passwords (as RDS does): they break connection strings and shells. */
const EXCLUDE_CHARACTERS = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

/** How a PgQ construct's function logs in; every PgQ function construct takes these. */
export interface DatabaseLoginOptions {
  /**
   * Bring your own login: a secret (RDS JSON shape) of a role you manage; the function reads
   * this secret and no role, grant or rotation is created for it.
   * @default a role of its own (see FUNCTION_ROLES), created by the admin custom resource
   */
  readonly loginSecret?: secretsmanager.ISecret;
  /**
   * The login role's name. Roles are per server, not per database: give distinct names when
   * several deployments share one server.
   * @default `<stack name>_<function>` in lower case, e.g. `skytoolsexample_ticker`
   */
  readonly roleName?: string;
  /**
   * When the function is removed: DESTROY revokes the role's privileges and drops it (and
   * deletes its secret); RETAIN keeps both.
   * @default RemovalPolicy.DESTROY
   */
  readonly roleRemovalPolicy?: RemovalPolicy;
  /** Rotation period of the login's secret (single-user rotation). @default 30 days */
  readonly loginRotation?: Duration;
}

export interface DatabaseLoginProps {
  readonly database: PgqDatabase;
  readonly kind: FunctionKind;
  readonly roleName: string;
  /** Group roles besides the kind's. @default none */
  readonly memberOf?: readonly string[];
  /** Privileges on the user's relations, e.g. `{ 'public.order_audit': ['insert', 'update'] }`. @default none */
  readonly grants?: RelationGrants;
  /** @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
  /** @default 30 days */
  readonly rotateAfter?: Duration;
}

/**
 * One function's login role: a generated secret `{ username, password }` (the admin custom
 * resource adds host, port and dbname), the role applied by the admin custom resource on every
 * deploy (created, its grants brought to what is declared here), and single-user rotation of the
 * secret (the rotation function changes the role's own password; the functions re-read the
 * secret when a login is refused). Only the admin custom resource and the rotation function may
 * read the secret besides the function it is for.
 */
export class DatabaseLogin extends Construct {
  public readonly roleName: string;
  public readonly secret: secretsmanager.Secret;
  /** The Custom::PgqDatabaseRole resource; the function depends on it. */
  public readonly resource: CustomResource;
  public readonly rotation: secretsmanager.SecretRotation;

  constructor(scope: Construct, id: string, props: DatabaseLoginProps) {
    super(scope, id);
    const spec = checkRoleSpec({
      role: props.roleName,
      memberOf: [...FUNCTION_ROLES[props.kind].memberOf, ...(props.memberOf ?? [])],
      grants: props.grants ?? {},
    });
    this.roleName = spec.role;
    const removal = props.removalPolicy ?? RemovalPolicy.DESTROY;
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: `skytools: login of the database role ${spec.role} (${props.kind})`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: spec.role }),
        generateStringKey: 'password',
        excludeCharacters: EXCLUDE_CHARACTERS,
        passwordLength: 32,
      },
      removalPolicy: removal,
    });
    const admin = PgqAdmin.of(this, props.database);
    // Reads the password, writes the connection fields beside it (a new version, nothing else).
    this.secret.grantRead(admin.function);
    admin.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:PutSecretValue'],
        resources: [this.secret.secretArn],
      }),
    );
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: admin.provider.serviceToken,
      resourceType: 'Custom::PgqDatabaseRole',
      properties: {
        Action: 'database-role',
        Role: spec.role,
        MemberOf: spec.memberOf,
        Grants: JSON.stringify(spec.grants),
        SecretArn: this.secret.secretArn,
        RemovalPolicy: removal === RemovalPolicy.RETAIN ? 'retain' : 'destroy',
      },
    });
    admin.afterSchema(this.resource);
    this.rotation = new secretsmanager.SecretRotation(this, 'Rotation', {
      application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
      secret: this.secret,
      // Without the database's connections, open its port to rotation.securityGroup yourself.
      target: props.database.connections ?? {
        connections: new ec2.Connections({ defaultPort: ec2.Port.tcp(5432) }),
      },
      vpc: props.database.vpc,
      vpcSubnets: props.database.vpcSubnets,
      automaticallyAfter: props.rotateAfter ?? Duration.days(30),
      excludeCharacters: EXCLUDE_CHARACTERS,
    });
    // Rotation starts at once when scheduled: the role must exist and the secret be complete.
    this.rotation.node.addDependency(this.resource);
  }
}

/** `<stack name>_<suffix>` as a plain lower-case identifier of at most 63 characters. */
export function defaultRoleName(scope: Construct, suffix: string): string {
  const stackName = Stack.of(scope).stackName;
  if (Token.isUnresolved(stackName)) {
    throw new Error(`${scope.node.path}: the stack name is not known at synth time; set roleName`);
  }
  let name = `${stackName}_${suffix}`.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  if (!/^[a-z_]/.test(name)) name = `_${name}`;
  if (name.length > 63) {
    name = `${name.slice(0, 54)}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  }
  return checkRoleName(name);
}

/** The secret a function logs in with, and the login created for it (none when the user brought one). */
export function functionLogin(
  scope: Construct,
  kind: FunctionKind,
  props: DatabaseLoginOptions & {
    readonly database: PgqDatabase;
    /** Default role name suffix (after the stack name). */
    readonly nameSuffix: string;
    readonly memberOf?: readonly string[];
    readonly grants?: RelationGrants;
  },
): { secret: secretsmanager.ISecret; login?: DatabaseLogin } {
  if (props.loginSecret) {
    if (props.grants || props.memberOf || props.roleName) {
      throw new Error(
        `${scope.node.path}: loginSecret brings your own role; roleName, memberOf and grants apply only to a role created here`,
      );
    }
    return { secret: props.loginSecret };
  }
  const login = new DatabaseLogin(scope, 'Login', {
    database: props.database,
    kind,
    roleName: props.roleName ?? defaultRoleName(scope, props.nameSuffix),
    ...(props.memberOf ? { memberOf: props.memberOf } : {}),
    ...(props.grants ? { grants: props.grants } : {}),
    ...(props.roleRemovalPolicy ? { removalPolicy: props.roleRemovalPolicy } : {}),
    ...(props.loginRotation ? { rotateAfter: props.loginRotation } : {}),
  });
  return { secret: login.secret, login };
}
