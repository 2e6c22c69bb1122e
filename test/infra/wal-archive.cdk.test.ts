// WalArchive: Template assertions and cdk-nag AwsSolutions with zero unacknowledged findings
// (bundling skipped, as in constructs.test.ts), plus one synth with real esbuild bundles.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { WalArchive, type WalArchiveProps } from '../../infra/index.ts';
import { MARKER_KEY, REPOSITORY_FORMAT } from '../../layers/walmgr/repository.ts';

function build(props: WalArchiveProps = {}, bundling = false, extra?: (stack: Stack) => void) {
  const app = new App(bundling ? {} : { context: { 'aws:cdk:bundling-stacks': [] } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Wal', { env: { account: '111111111111', region: 'eu-west-1' } });
  const archive = new WalArchive(stack, 'Archive', props);
  extra?.(stack);
  const host = new iam.Role(stack, 'DbHost', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
  archive.grantDatabaseHost(host);
  return { app, stack, archive, host, t: Template.fromStack(stack) };
}

const statements = (t: Template, logicalIdPattern: RegExp) =>
  Object.entries(t.findResources('AWS::IAM::ManagedPolicy'))
    .filter(([id]) => logicalIdPattern.test(id))
    .flatMap(([, r]) => r.Properties.PolicyDocument.Statement as Record<string, unknown>[]);

describe('WalArchive', () => {
  const s = build();
  const { t } = s;

  it('bucket: S3-managed encryption, versioned, TLS-only, public access blocked, retained, lifecycle', () => {
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({
              NoncurrentVersionExpiration: { NoncurrentDays: 30 },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
              Status: 'Enabled',
            }),
          ],
        },
      }),
    });
    const policy = JSON.stringify(t.findResources('AWS::S3::BucketPolicy'));
    expect(policy).toContain('"aws:SecureTransport":"false"');
    expect(policy).toContain('s3:TlsVersion');
    expect(s.archive.prefix).toBe('walmgr');
    expect(JSON.stringify(s.stack.resolve(s.archive.repository))).toMatch(
      /^\{"Fn::Join":\["",\["s3:\/\/",\{"Ref":"ArchiveBucket\w+"\},"\/walmgr"\]\]\}$/,
    );
  });

  it('wal-verify: nodejs24.x on ARM, outside any VPC, on object-created events under the prefix', () => {
    const fns = t.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('verify new WAL') },
    });
    const [id, fn] = Object.entries(fns)[0]!;
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], MemorySize: 512 });
    expect(fn.Properties.VpcConfig).toBeUndefined();
    expect(fn.Properties.Environment.Variables).toMatchObject({
      WAL_ARCHIVE_PREFIX: 'walmgr',
      WAL_VERIFY_PENDING: '16',
      WAL_VERIFY_DEEP: 'false',
    });
    t.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'walmgr/' }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [id, 'Arn'] },
          },
        ],
      },
    });
    // May read under the prefix and write only catalog objects; never delete.
    const policies = JSON.stringify(
      Object.values(t.findResources('AWS::IAM::Policy')).filter((p) =>
        JSON.stringify(p.Properties.Roles).includes('Verify'),
      ),
    );
    expect(policies).toContain('/walmgr/*/catalog/*');
    expect(policies).not.toContain('s3:DeleteObject');
  });

  it('wal-expire: scheduled daily with the default policy (keep 7), may delete under the prefix', () => {
    const fns = t.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('expire WAL') },
    });
    const [id, fn] = Object.entries(fns)[0]!;
    expect(fn.Properties.Runtime).toBe('nodejs24.x');
    expect(fn.Properties.Environment.Variables).toMatchObject({
      WAL_ARCHIVE_PREFIX: 'walmgr',
      WAL_RETENTION_KEEP_LAST: '7',
      WAL_RETENTION_DRY_RUN: 'false',
    });
    expect(fn.Properties.Environment.Variables.WAL_RETENTION_MAX_AGE_DAYS).toBeUndefined();
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 day)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } }),
    });
    const policies = JSON.stringify(
      Object.values(t.findResources('AWS::IAM::Policy')).filter((p) =>
        JSON.stringify(p.Properties.Roles).includes('Expire'),
      ),
    );
    expect(policies).toContain('"s3:GetObject","s3:DeleteObject"');
    expect(policies).toContain('/walmgr/*');
  });

  it('host policy: put and read under the prefix only, WAL only if absent, never delete; attached to the host role', () => {
    const st = statements(t, /HostPolicy/);
    const allow = st.filter((x) => x.Effect === 'Allow');
    const deny = st.filter((x) => x.Effect === 'Deny');
    expect(allow.flatMap((x) => [x.Action].flat()).sort()).toEqual([
      's3:AbortMultipartUpload',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ]);
    for (const x of allow) expect(JSON.stringify(x.Resource)).toMatch(/\/walmgr\/\*"|"Arn"\]\}$|Arn"\]}/);
    expect(JSON.stringify(allow.find((x) => x.Sid === 'ListRepository'))).toContain(
      '"s3:prefix":["walmgr/*"]',
    );
    expect(JSON.stringify(deny.find((x) => x.Sid === 'NeverDeleteOrRewriteHistory'))).toContain(
      's3:DeleteObjectVersion',
    );
    const walOnly = deny.find((x) => x.Sid === 'WalOnlyIfAbsent')!;
    expect(walOnly.Condition).toEqual({ Null: { 's3:if-none-match': 'true' } });
    expect(JSON.stringify(walOnly.Resource)).toContain('/walmgr/*/wal/*');
    expect(JSON.stringify(st)).not.toContain('kms:');
    t.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: Match.arrayWith([{ Ref: Match.stringLikeRegexp('ArchiveHostPolicy') }]),
    });
  });

  it('writes the repository marker at deploy time, so walmgr accepts the repository without walmgr init', () => {
    const markers = Object.values(t.findResources('Custom::AWS'));
    expect(markers).toHaveLength(1);
    const create = JSON.stringify(markers[0]!.Properties.Create);
    expect(create).toContain('putObject');
    expect(create).toContain(`walmgr/${MARKER_KEY}`);
    // The format walmgr checks with a HEAD (layers/walmgr/repository.ts).
    expect(create).toContain(`"format\\":\\"${REPOSITORY_FORMAT}`);
    const policies = Object.values(t.findResources('AWS::IAM::Policy')).map((p) =>
      JSON.stringify(p.Properties.PolicyDocument),
    );
    const markerPolicy = policies.filter((p) => p.includes(MARKER_KEY));
    expect(markerPolicy).toHaveLength(1);
    expect(markerPolicy[0]).toContain('s3:PutObject');
    expect(markerPolicy[0]).not.toContain('kms:');
  });

  it('cdk-nag AwsSolutions: no unacknowledged findings', () => {
    expect(() => s.app.synth()).not.toThrow();
  });

  it('options: KMS key with rotation, Object Lock, access logs, max-age retention, dry run, custom prefix', () => {
    const b = build(
      {
        prefix: '/prod-db/',
        encryption: 'kms',
        objectLock: { mode: 'GOVERNANCE', retention: Duration.days(14) },
        retention: { maxAgeDays: 30, dryRun: true },
        denyWalOverwrite: false,
      },
      false,
      (stack) => {
        const logsBucket = new s3.Bucket(stack, 'AccessLogs', {
          enforceSSL: true,
          encryption: s3.BucketEncryption.S3_MANAGED,
        });
        Validations.of(logsBucket).acknowledge({
          id: 'AwsSolutions::AwsSolutions-S1',
          reason: 'Test target bucket for access logs; logging the logs bucket would recurse.',
        });
        new WalArchive(stack, 'Logged', { accessLogsBucket: logsBucket });
        expect(() => new WalArchive(stack, 'Empty', { prefix: '/' })).toThrow(/prefix must not be empty/);
      },
    );
    const t2 = b.t;
    t2.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    t2.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 14 } },
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) }),
        ],
      },
    });
    t2.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: {
        DestinationBucketName: { Ref: Match.anyValue() },
        LogFilePrefix: 'walmgr-access/',
      },
    });
    const fn = Object.values(
      t2.findResources('AWS::Lambda::Function', {
        Properties: {
          Description: Match.stringLikeRegexp('expire WAL'),
          Environment: Match.objectLike({ Variables: Match.objectLike({ WAL_ARCHIVE_PREFIX: 'prod-db' }) }),
        },
      }),
    )[0]!;
    expect(fn.Properties.Environment.Variables).toMatchObject({
      WAL_RETENTION_MAX_AGE_DAYS: '30',
      WAL_RETENTION_DRY_RUN: 'true',
    });
    expect(fn.Properties.Environment.Variables.WAL_RETENTION_KEEP_LAST).toBeUndefined();
    const st = statements(t2, /ArchiveHostPolicy/);
    expect(st.find((x) => x.Sid === 'WalOnlyIfAbsent')).toBeUndefined();
    expect(JSON.stringify(st.find((x) => x.Sid === 'ArchiveKey'))).toContain('kms:GenerateDataKey');
    expect(JSON.stringify(st)).toContain('/prod-db/*');
    // The marker under the custom prefix, written with the KMS key.
    const markerPolicy = Object.values(t2.findResources('AWS::IAM::Policy'))
      .map((p) => JSON.stringify(p.Properties.PolicyDocument))
      .find((p) => p.includes(`prod-db/${MARKER_KEY}`));
    expect(markerPolicy).toContain('kms:GenerateDataKey');
    expect(() => b.app.synth()).not.toThrow();
  });

  it('synthesizes with real esbuild bundles of both handlers', () => {
    const b = build({}, true);
    const assembly = b.app.synth();
    // esbuild ran locally (no Docker) and wrote an ESM bundle per handler.
    const bundles = readdirSync(assembly.directory).filter((d) =>
      existsSync(path.join(assembly.directory, d, 'index.mjs')),
    );
    expect(bundles.length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
