// WalArchive: the S3 repository for `skytools walmgr` (WAL + base backups) with its two Lambdas:
// wal-verify on object-created events (checksum/header/continuity, layers/walmgr/verify-object.ts)
// and wal-expire on a schedule (retention, layers/walmgr/retention.ts); the repository marker
// (layers/walmgr/repository.ts) written at deploy time; plus the managed policy for the database
// host: put new objects and read under the repository prefix, nothing else.
import path from 'node:path';
import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { MARKER_KEY, markerObject } from '../../layers/walmgr/repository.ts';
import { ackInvokeVersions, bundledFunction, FUNCTIONS_DIR } from './defaults.ts';

export interface WalArchiveRetention {
  /** Keep the newest N complete backups. @default 7 (when maxAgeDays is not set either) */
  readonly keepLast?: number;
  /** Keep every backup that stopped less than this many days ago. @default none */
  readonly maxAgeDays?: number;
  /** Only log what would be expired. @default false */
  readonly dryRun?: boolean;
}

export interface WalArchiveProps {
  /**
   * Repository prefix in the bucket: walmgr's repository is `s3://<bucket>/<prefix>`; the
   * database host may write only under it. @default 'walmgr'
   */
  readonly prefix?: string;
  /** Bucket encryption: S3-managed keys, or KMS (a key with rotation, or `encryptionKey`). @default 's3-managed' */
  readonly encryption?: 's3-managed' | 'kms';
  /** KMS key when encryption is 'kms'. @default a new key with yearly rotation */
  readonly encryptionKey?: kms.IKey;
  /**
   * Object Lock default retention (the bucket is created with Object Lock enabled; can only be
   * set at creation). Expired objects then get delete markers; their versions stay until the lock
   * passes and the non-current-version rule removes them. @default no Object Lock
   */
  readonly objectLock?: { readonly mode: 'GOVERNANCE' | 'COMPLIANCE'; readonly retention: Duration };
  /** Server access logs target. @default none (acknowledged cdk-nag finding S1, see below) */
  readonly accessLogsBucket?: s3.IBucket;
  /** @default `${prefix}-access/` */
  readonly accessLogsPrefix?: string;
  /** How long overwritten/deleted object versions are kept. @default 30 days */
  readonly noncurrentVersionRetention?: Duration;
  /** Retention policy applied by wal-expire. @default keep the newest 7 backups */
  readonly retention?: WalArchiveRetention;
  /** When wal-expire runs. @default rate(1 day) */
  readonly expireSchedule?: scheduler.ScheduleExpression;
  /** wal-verify: also read and checksum every file of a new backup. @default false (sizes + WAL presence) */
  readonly deepBackupVerify?: boolean;
  /** wal-verify: segments below the newest that may still be in flight before a hole counts. @default 16 */
  readonly pendingSegments?: number;
  /**
   * Deny the host PUTs of WAL objects without `If-None-Match: *` (S3 conditional writes), so an
   * archived WAL file can never be overwritten. walmgr sends it for single-part uploads, i.e. for
   * compressed WAL files under 64 MiB (every 16 MiB segment); turn off for larger segments.
   * @default true
   */
  readonly denyWalOverwrite?: boolean;
  /** @default RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** @default nodejs24.x */
  readonly runtime?: lambda.Runtime;
  /** @default ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** wal-verify memory (decompresses whole segments). @default 512 */
  readonly memorySize?: number;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
}

export class WalArchive extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly encryptionKey?: kms.IKey;
  /** Repository prefix (no slashes at either end). */
  public readonly prefix: string;
  /** `s3://bucket/prefix`, for `skytools walmgr --repo`. */
  public readonly repository: string;
  public readonly verifyFunction: nodejs.NodejsFunction;
  public readonly expireFunction: nodejs.NodejsFunction;
  public readonly expireSchedule: scheduler.Schedule;
  /** Attach to the database host's role (see grantDatabaseHost). */
  public readonly hostPolicy: iam.ManagedPolicy;
  /** Writes the repository marker at deploy time, so walmgr accepts the repository without `walmgr init`. */
  public readonly marker: cr.AwsCustomResource;

  constructor(scope: Construct, id: string, props: WalArchiveProps = {}) {
    super(scope, id);
    const prefix = (props.prefix ?? 'walmgr').replace(/^\/+|\/+$/g, '');
    if (!prefix) throw new Error('WalArchive: prefix must not be empty (the host may write only under it)');
    this.prefix = prefix;
    const kmsEncrypted = props.encryption === 'kms' || Boolean(props.encryptionKey);
    this.encryptionKey = kmsEncrypted
      ? (props.encryptionKey ??
        new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'skytools WAL archive' }))
      : undefined;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: kmsEncrypted ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      ...(this.encryptionKey ? { encryptionKey: this.encryptionKey, bucketKeyEnabled: true } : {}),
      versioned: true,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      ...(props.objectLock
        ? {
            objectLockEnabled: true,
            objectLockDefaultRetention:
              props.objectLock.mode === 'COMPLIANCE'
                ? s3.ObjectLockRetention.compliance(props.objectLock.retention)
                : s3.ObjectLockRetention.governance(props.objectLock.retention),
          }
        : {}),
      ...(props.accessLogsBucket
        ? {
            serverAccessLogsBucket: props.accessLogsBucket,
            serverAccessLogsPrefix: props.accessLogsPrefix ?? `${prefix}-access/`,
          }
        : {}),
      lifecycleRules: [
        {
          id: 'noncurrent-versions-and-stale-uploads',
          noncurrentVersionExpiration: props.noncurrentVersionRetention ?? Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
          expiredObjectDeleteMarker: true,
        },
      ],
    });
    if (!props.accessLogsBucket) {
      Validations.of(this.bucket).acknowledge({
        id: 'AwsSolutions::AwsSolutions-S1',
        reason:
          'Access logs are optional (prop accessLogsBucket): every write comes from the database host or these two ' +
          'functions, which log each object they verify or expire; CloudTrail data events can be enabled instead.',
      });
    }
    this.repository = `s3://${this.bucket.bucketName}/${prefix}`;
    this.marker = this.writeMarker(prefix);
    const objects = this.bucket.arnForObjects(`${prefix}/*`);
    // Bundled functions with the shared defaults (bundledFunction), but no VPC and no database:
    // they only talk to S3.
    const fnDefaults = {
      runtime: props.runtime,
      architecture: props.architecture,
      logRetention: props.logRetention,
    };

    // wal-verify: reads everything under the prefix, writes only the catalog objects.
    this.verifyFunction = bundledFunction(this, 'Verify', {
      ...fnDefaults,
      entry: path.join(FUNCTIONS_DIR, 'wal-verify/handler.ts'),
      description: 'skytools: verify new WAL archive objects (checksum, header, continuity)',
      memorySize: props.memorySize ?? 512,
      timeout: Duration.minutes(5),
      environment: {
        WAL_ARCHIVE_PREFIX: prefix,
        WAL_VERIFY_PENDING: String(props.pendingSegments ?? 16),
        WAL_VERIFY_DEEP: String(props.deepBackupVerify ?? false),
      },
    });
    this.allow(this.verifyFunction, ['s3:GetObject'], objects);
    this.allow(this.verifyFunction, ['s3:PutObject'], this.bucket.arnForObjects(`${prefix}/*/catalog/*`));
    this.allowList(this.verifyFunction);
    this.bucket.addEventNotification(
      s3.EventType.OBJECT_CREATED,
      new s3n.LambdaDestination(this.verifyFunction),
      { prefix: `${prefix}/` },
    );

    // wal-expire: reads and deletes under the prefix.
    const r = props.retention ?? {};
    const keepLast = r.keepLast ?? (r.maxAgeDays === undefined ? 7 : undefined);
    this.expireFunction = bundledFunction(this, 'Expire', {
      ...fnDefaults,
      entry: path.join(FUNCTIONS_DIR, 'wal-expire/handler.ts'),
      description: 'skytools: expire WAL archive backups and WAL beyond the retention policy',
      memorySize: 256,
      timeout: Duration.minutes(15),
      environment: {
        WAL_ARCHIVE_BUCKET: this.bucket.bucketName,
        WAL_ARCHIVE_PREFIX: prefix,
        ...(keepLast !== undefined ? { WAL_RETENTION_KEEP_LAST: String(keepLast) } : {}),
        ...(r.maxAgeDays !== undefined ? { WAL_RETENTION_MAX_AGE_DAYS: String(r.maxAgeDays) } : {}),
        WAL_RETENTION_DRY_RUN: String(r.dryRun ?? false),
      },
    });
    this.allow(this.expireFunction, ['s3:GetObject', 's3:DeleteObject'], objects);
    this.allowList(this.expireFunction);
    this.expireSchedule = new scheduler.Schedule(this, 'ExpireSchedule', {
      schedule: props.expireSchedule ?? scheduler.ScheduleExpression.rate(Duration.days(1)),
      description: 'skytools WAL archive retention',
      target: new targets.LambdaInvoke(this.expireFunction, { retryAttempts: 2 }),
    });
    ackInvokeVersions(
      Stack.of(this),
      this.expireFunction,
      'The EventBridge Scheduler role of the WAL retention',
    );

    // The database host: new objects and reads under the prefix; no delete, no ACLs, no lock changes.
    const statements = [
      new iam.PolicyStatement({
        sid: 'ArchiveAndBackup',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [objects],
      }),
      new iam.PolicyStatement({ sid: 'Restore', actions: ['s3:GetObject'], resources: [objects] }),
      new iam.PolicyStatement({
        sid: 'ListRepository',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${prefix}/*`] } },
      }),
      new iam.PolicyStatement({
        sid: 'NeverDeleteOrRewriteHistory',
        effect: iam.Effect.DENY,
        actions: [
          's3:DeleteObject',
          's3:DeleteObjectVersion',
          's3:PutObjectAcl',
          's3:PutObjectVersionAcl',
          's3:PutObjectRetention',
          's3:PutObjectLegalHold',
          's3:BypassGovernanceRetention',
          's3:PutLifecycleConfiguration',
          's3:PutBucketPolicy',
          's3:PutBucketVersioning',
          's3:PutBucketObjectLockConfiguration',
        ],
        resources: [this.bucket.bucketArn, this.bucket.arnForObjects('*')],
      }),
    ];
    if (props.denyWalOverwrite ?? true) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'WalOnlyIfAbsent',
          effect: iam.Effect.DENY,
          actions: ['s3:PutObject'],
          resources: [this.bucket.arnForObjects(`${prefix}/*/wal/*`)],
          conditions: { Null: { 's3:if-none-match': 'true' } },
        }),
      );
    }
    if (this.encryptionKey) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'ArchiveKey',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [this.encryptionKey.keyArn],
        }),
      );
    }
    this.hostPolicy = new iam.ManagedPolicy(this, 'HostPolicy', {
      description: `skytools walmgr on the database host: put new objects and read under ${prefix}/ only`,
      statements,
    });
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement);
    const wildcard = (suffix: string) =>
      `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${suffix}]`;
    Validations.of(this.hostPolicy).acknowledge({
      id: wildcard(`${prefix}/*`),
      reason:
        `The host writes one object per WAL file and backup file under the repository prefix ${prefix}/* ` +
        '(names not known in advance); it may not delete, and WAL objects may only be created, never replaced.',
    });
    const perObject = 'object names are per WAL file / backup file, so the grant is a prefix wildcard';
    Validations.of(this.verifyFunction).acknowledge(
      {
        id: wildcard(`${prefix}/*`),
        reason: `wal-verify reads every new object under the prefix; ${perObject}.`,
      },
      {
        id: wildcard(`${prefix}/*/catalog/*`),
        reason: `wal-verify writes one continuity catalog object per system and timeline; ${perObject}.`,
      },
    );
    Validations.of(this.expireFunction).acknowledge({
      id: wildcard(`${prefix}/*`),
      reason: `wal-expire reads manifests and deletes expired backups and WAL under the prefix; ${perObject}.`,
    });
    // The custom resources aws-cdk-lib adds once per stack.
    Validations.of(Stack.of(this)).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'aws-cdk-lib BucketNotificationsHandler (configures the S3 event notification at deploy time) and the ' +
        'AwsCustomResource provider (writes the repository marker): AWS-maintained minimum to write their own logs.',
    });
  }

  /**
   * The repository marker (layers/walmgr/repository.ts), written once at deploy time: without it
   * every walmgr command refuses the repository, which is what catches a wrong bucket or prefix.
   * Re-running it (a prefix change) rewrites the same marker, which is harmless.
   */
  private writeMarker(prefix: string): cr.AwsCustomResource {
    const key = `${prefix}/${MARKER_KEY}`;
    const marker = markerObject({ createdBy: 'WalArchive (CDK)' });
    const put: cr.AwsSdkCall = {
      service: 'S3',
      action: 'putObject',
      parameters: { Bucket: this.bucket.bucketName, Key: key, Body: marker.body, Metadata: marker.metadata },
      physicalResourceId: cr.PhysicalResourceId.of(`${this.bucket.bucketName}/${key}`),
    };
    const statements = [
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(key)] }),
    ];
    if (this.encryptionKey)
      statements.push(
        new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [this.encryptionKey.keyArn] }),
      );
    const res = new cr.AwsCustomResource(this, 'RepositoryMarker', {
      onCreate: put,
      onUpdate: put,
      policy: cr.AwsCustomResourcePolicy.fromStatements(statements),
      installLatestAwsSdk: false,
    });
    return res;
  }

  private allow(fn: lambda.Function, actions: string[], resource: string): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [resource] }));
    if (this.encryptionKey)
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: actions.includes('s3:PutObject')
            ? ['kms:Decrypt', 'kms:GenerateDataKey']
            : ['kms:Decrypt'],
          resources: [this.encryptionKey.keyArn],
        }),
      );
  }

  private allowList(fn: lambda.Function): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${this.prefix}/*`] } },
      }),
    );
  }

  /** Lets the database host (its instance role) archive, back up and restore; nothing else. */
  public grantDatabaseHost(role: iam.IRole): void {
    role.addManagedPolicy(this.hostPolicy);
  }
}
