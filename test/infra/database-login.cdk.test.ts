// Each deployed function logs in as its own database role (infra/constructs/database-login.ts):
// its environment names its own generated secret, its IAM policy may read that secret only, the
// master secret is readable by the admin custom resource alone, the role resources declare the
// role model (FUNCTION_ROLES + grants), rotation and dependencies are in place, a user's own
// secret replaces all of it, and cdk-nag stays clean.
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  FUNCTION_ROLES,
  FUNCTIONS_DIR,
  PgqConsumerFunction,
  PgqMaintenance,
  PgqSchema,
  PgqTicker,
} from '../../infra/index.ts';

const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const entry = `${FUNCTIONS_DIR}/example-consumer/handler.ts`;

function stackWithDatabase(name = 'Logins') {
  const app = new App({ context: NO_BUNDLING });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, name, { env: { account: '111111111111', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    natGateways: 0,
    subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
  Validations.of(vpc).acknowledge({
    id: 'AwsSolutions::AwsSolutions-VPC7',
    reason: 'Test VPC only carries the constructs under test; the example stack has flow logs.',
  });
  const master = new secretsmanager.Secret(stack, 'Master');
  Validations.of(master).acknowledge({
    id: 'AwsSolutions::AwsSolutions-SMG4',
    reason: 'Test master secret; the example stack rotates its own.',
  });
  const sg = new ec2.SecurityGroup(stack, 'DbSg', { vpc });
  const connections = {
    connections: new ec2.Connections({ securityGroups: [sg], defaultPort: ec2.Port.tcp(5432) }),
  };
  return { app, stack, database: { secret: master, vpc, connections } };
}

function build() {
  const s = stackWithDatabase();
  const { stack, database } = s;
  const ticker = new PgqTicker(stack, 'Ticker', { database });
  const maintenance = new PgqMaintenance(stack, 'Maintenance', {
    database,
    roleRemovalPolicy: RemovalPolicy.RETAIN,
  });
  const consumer = new PgqConsumerFunction(stack, 'Audit', {
    database,
    queue: 'orders',
    consumer: 'audit',
    entry,
    ticker,
    grants: { 'public.order_audit': ['insert', 'update'] },
  });
  const schema = new PgqSchema(stack, 'Schema', { database });
  return { ...s, ticker, maintenance, consumer, schema, template: Template.fromStack(stack) };
}

type Resources = Record<
  string,
  { Type: string; Properties: any; DependsOn?: string[]; DeletionPolicy?: string }
>;

/** Logical ids of the secrets each IAM role may GetSecretValue on. */
function secretReadersByRole(resources: Resources): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    for (const st of r.Properties.PolicyDocument.Statement) {
      const actions = [st.Action].flat();
      if (!actions.includes('secretsmanager:GetSecretValue')) continue;
      for (const res of [st.Resource].flat()) {
        for (const role of r.Properties.Roles) {
          const list = out.get(role.Ref) ?? [];
          list.push(res.Ref);
          out.set(role.Ref, list);
        }
      }
    }
  }
  return out;
}

const logicalId = (stack: Stack, c: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(c.node.defaultChild as never);

describe('database logins', () => {
  const b = build();
  const resources = b.template.toJSON().Resources as Resources;
  const fnRole = (fn: { role?: { node: { defaultChild?: unknown } } }) => logicalId(b.stack, fn.role!);
  const secretOf = (x: { loginSecret: { node: { defaultChild?: unknown } } }) =>
    logicalId(b.stack, x.loginSecret);
  const admin = Object.values(resources).find(
    (r) =>
      r.Type === 'AWS::Lambda::Function' && /login roles \(custom resources\)/.test(r.Properties.Description),
  )!;
  const adminRole = admin.Properties.Role['Fn::GetAtt'][0] as string;
  const masterId = logicalId(b.stack, b.database.secret);

  it("each function's environment names its own secret, and its role may read that one only", () => {
    const fns = [b.ticker, b.maintenance, b.consumer];
    const secrets = fns.map(secretOf);
    expect(new Set(secrets).size).toBe(3);
    expect(secrets).not.toContain(masterId);
    const readers = secretReadersByRole(resources);
    for (const [i, c] of fns.entries()) {
      const fn = resources[logicalId(b.stack, c.function)]!;
      expect(fn.Properties.Environment.Variables.DATABASE_SECRET_ARN).toEqual({ Ref: secrets[i] });
      expect(readers.get(fnRole(c.function))).toEqual([secrets[i]]);
      // The role exists (and the secret is complete) before the function can run.
      expect(fn.DependsOn).toContain(logicalId(b.stack, c.login!.resource));
    }
  });

  it('the master secret is granted to the admin custom resource only, which also completes the login secrets', () => {
    const readers = secretReadersByRole(resources);
    const ofMaster = [...readers].filter(([, secrets]) => secrets.includes(masterId)).map(([role]) => role);
    expect(ofMaster).toEqual([adminRole]);
    expect(readers.get(adminRole)).toEqual(
      expect.arrayContaining([b.ticker, b.maintenance, b.consumer].map(secretOf)),
    );
    const adminPolicies = JSON.stringify(
      Object.values(resources).filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          r.Properties.Roles.some((x: { Ref: string }) => x.Ref === adminRole),
      ),
    );
    expect(adminPolicies).toContain('secretsmanager:PutSecretValue');
    expect(adminPolicies).not.toMatch(
      /secretsmanager:UpdateSecret|secretsmanager:DeleteSecret|secretsmanager:\*/,
    );
  });

  it('the role resources declare the role model: pgq_admin for ticker and maintenance, pgq_reader plus grants for the consumer', () => {
    expect(FUNCTION_ROLES.ticker.memberOf).toEqual(['pgq_admin']);
    b.template.hasResourceProperties('Custom::PgqDatabaseRole', {
      Action: 'database-role',
      Role: 'logins_ticker',
      MemberOf: ['pgq_admin'],
      Grants: '{}',
      SecretArn: { Ref: secretOf(b.ticker) },
      RemovalPolicy: 'destroy',
    });
    b.template.hasResourceProperties('Custom::PgqDatabaseRole', {
      Role: 'logins_maintenance',
      MemberOf: ['pgq_admin'],
      RemovalPolicy: 'retain',
    });
    b.template.hasResourceProperties('Custom::PgqDatabaseRole', {
      Role: 'logins_orders_audit',
      MemberOf: ['pgq_reader'],
      Grants: JSON.stringify({ 'public.order_audit': ['insert', 'update'] }),
    });
    // A kept role keeps its secret too; a dropped one's secret goes with it.
    expect(resources[secretOf(b.maintenance)]!.DeletionPolicy).toBe('Retain');
    expect(resources[secretOf(b.ticker)]!.DeletionPolicy).toBe('Delete');
    const generated = resources[secretOf(b.consumer)]!.Properties.GenerateSecretString;
    expect(JSON.parse(generated.SecretStringTemplate)).toEqual({ username: 'logins_orders_audit' });
    expect(generated.GenerateStringKey).toBe('password');
  });

  it('roles wait for the schema; each login secret rotates (single user) once its role exists', () => {
    const schemaId = logicalId(b.stack, b.schema.resource);
    for (const c of [b.ticker, b.maintenance, b.consumer]) {
      const role = resources[logicalId(b.stack, c.login!.resource)]!;
      expect(role.DependsOn).toContain(schemaId);
      const schedule = Object.entries(resources).find(
        ([, r]) =>
          r.Type === 'AWS::SecretsManager::RotationSchedule' && r.Properties.SecretId.Ref === secretOf(c),
      );
      expect(schedule, c.node.path).toBeDefined();
      expect(schedule![1].Properties.RotationRules).toMatchObject({ ScheduleExpression: 'rate(30 days)' });
      // Rotation starts when scheduled: its function (the SAR application the schedule names)
      // is created only once the role exists and its secret is complete.
      const appId = JSON.stringify(schedule![1].Properties).match(
        /"([A-Za-z0-9]+)","Outputs\.RotationLambdaARN"/,
      )?.[1];
      expect(appId, c.node.path).toBeDefined();
      expect(resources[appId!]!.DependsOn).toContain(logicalId(b.stack, c.login!.resource));
    }
    expect(JSON.stringify(b.template.toJSON().Mappings)).toContain(
      'SecretsManagerRDSPostgreSQLRotationSingleUser',
    );
    // Each rotation function may reach the database's port.
    const ingress = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::EC2::SecurityGroupIngress' &&
        r.Properties.FromPort === 5432 &&
        /LoginRotationSecurityGroup/.test(JSON.stringify(r.Properties.SourceSecurityGroupId)),
    );
    expect(ingress).toHaveLength(3);
  });

  it('cdk-nag AwsSolutions: no unacknowledged findings', () => {
    expect(() => b.app.synth()).not.toThrow();
  });

  it('bring your own: a loginSecret per function replaces role, grants and rotation', () => {
    const s = stackWithDatabase('Own');
    const own = (id: string) => secretsmanager.Secret.fromSecretNameV2(s.stack, id, `own/${id}`);
    const ticker = new PgqTicker(s.stack, 'Ticker', { database: s.database, loginSecret: own('ticker') });
    new PgqConsumerFunction(s.stack, 'C', {
      database: s.database,
      queue: 'q',
      consumer: 'c',
      entry,
      ticker,
      loginSecret: own('consumer'),
    });
    const t = Template.fromStack(s.stack);
    t.resourceCountIs('Custom::PgqDatabaseRole', 0);
    t.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    expect(ticker.login).toBeUndefined();
    const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((f) =>
      /PgQ ticker/.test(f.Properties.Description),
    )!;
    expect(JSON.stringify(fn.Properties.Environment.Variables.DATABASE_SECRET_ARN)).toContain('own/ticker');
    expect(
      () =>
        new PgqConsumerFunction(s.stack, 'Both', {
          database: s.database,
          queue: 'q',
          consumer: 'both',
          entry,
          loginSecret: own('both'),
          grants: { 'public.t': ['select'] },
        }),
    ).toThrow(/loginSecret brings your own role/);
  });

  it('refuses bad declarations at synth time: unknown privileges, unqualified tables, odd role names', () => {
    const s = stackWithDatabase('Bad');
    const consumer = (id: string, extra: object) =>
      new PgqConsumerFunction(s.stack, id, {
        database: s.database,
        queue: 'q',
        consumer: id.toLowerCase(),
        entry,
        ...extra,
      });
    expect(() => consumer('A', { grants: { 'public.t': ['drop'] } })).toThrow(/unknown privilege "drop"/);
    expect(() => consumer('B', { grants: { t: ['select'] } })).toThrow(/schema\.table/);
    expect(() => consumer('C', { roleName: 'Robert"); drop table x; --' })).toThrow(/not a plain identifier/);
    expect(() => consumer('D', { memberOf: ['pg_read_all_data'] })).toThrow(/not a plain identifier/);
  });
});
