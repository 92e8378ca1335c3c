import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { ResolvedConfig } from '../validation';

/**
 * The archive: a versioned SSE-KMS bucket (TLS 1.2 only, no public access, no ACLs, retained), its
 * server access-log bucket, the optional customer-managed key, lifecycle rules, and a bucket
 * policy that refuses unconditional writes of archived messages.
 */
export class Archive {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  /** The customer-managed key, when `archive.encryption` is `customer-managed`. */
  readonly key?: kms.Key;

  constructor(scope: Construct, config: ResolvedConfig) {
    if (config.archive.encryption === 'customer-managed') {
      this.key = new kms.Key(scope, 'ArchiveKey', {
        description: 'Pop3Poller archive bucket (SSE-KMS)',
        enableKeyRotation: true,
        // Archived mail outlives the stack; a deleted key would make it unreadable.
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }
    this.accessLogBucket = new s3.Bucket(scope, 'AccessLogBucket', {
      // S3 server access logging delivers only to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(config.archive.accessLogRetentionDays) },
      ],
    });
    const rules = lifecycleRules(config);
    const lock = config.archive.objectLock;
    this.bucket = new s3.Bucket(scope, 'ArchiveBucket', {
      encryption: this.key ? s3.BucketEncryption.KMS : s3.BucketEncryption.KMS_MANAGED,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'archive-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
      ...(lock
        ? {
            objectLockEnabled: true,
            objectLockDefaultRetention:
              lock.mode === 'compliance'
                ? s3.ObjectLockRetention.compliance(Duration.days(lock.retentionDays))
                : s3.ObjectLockRetention.governance(Duration.days(lock.retentionDays)),
          }
        : {}),
      lifecycleRules: rules,
    });
    // CloudFormation types ObjectSizeGreaterThan as a string (sizes beyond 2^53); the L2 renders a number.
    const sizeRule = rules.findIndex((rule) => rule.objectSizeGreaterThan !== undefined);
    if (sizeRule >= 0) {
      (this.bucket.node.defaultChild as s3.CfnBucket).addPropertyOverride(
        `LifecycleConfiguration.Rules.${sizeRule}.ObjectSizeGreaterThan`,
        String(config.archive.minTransitionSizeBytes),
      );
    }
    this.bucket.addToResourcePolicy(conditionalWritesOnly(this.bucket, config.archive.prefix));
    if (lock && config.usesKeepMode) {
      Validations.of(scope).addWarning(
        'Pop3Poller:ObjectLockKeepModeState',
        `Object Lock retains every version of the keep-mode state objects under "${config.archive.statePrefix}" ` +
          `for ${lock.retentionDays} days too; each poll that archives something writes a new ` +
          'version. Expect that storage in the bill.',
      );
    }
  }
}

/**
 * An archived message is written once: every object-creating write under the mail prefix must
 * carry `If-None-Match` (the worker sends `If-None-Match: *` on PutObject and on
 * CompleteMultipartUpload), so no principal — the worker with a bug included — can overwrite one.
 *
 * S3 documents the `s3:if-none-match` condition key for this, and `s3:ObjectCreationOperation` to
 * exempt CreateMultipartUpload, UploadPart and UploadPartCopy, which take no conditional headers
 * (S3 User Guide, "Enforce conditional writes on Amazon S3 buckets"): the deny applies only when
 * the request creates the object (ObjectCreationOperation true: PutObject, CompleteMultipartUpload,
 * CopyObject) and has no If-None-Match header (Null true). CopyObject into the prefix is refused
 * either way, as S3 documents. The keep-mode state objects under the state prefix are overwritten
 * on purpose and stay outside this statement.
 */
export function conditionalWritesOnly(bucket: s3.IBucket, prefix: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'ArchivedMessagesAreWrittenOnce',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['s3:PutObject'],
    resources: [bucket.arnForObjects(`${prefix}*`)],
    conditions: {
      Null: { 's3:if-none-match': 'true' },
      Bool: { 's3:ObjectCreationOperation': 'true' },
    },
  });
}

function lifecycleRules(config: ResolvedConfig): s3.LifecycleRule[] {
  const archive = config.archive;
  const transitions: s3.Transition[] = [];
  if (archive.glacierInstantRetrievalAfterDays > 0) {
    transitions.push({
      storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
      transitionAfter: Duration.days(archive.glacierInstantRetrievalAfterDays),
    });
  }
  if (archive.deepArchiveAfterDays !== undefined) {
    transitions.push({
      storageClass: s3.StorageClass.DEEP_ARCHIVE,
      transitionAfter: Duration.days(archive.deepArchiveAfterDays),
    });
  }
  const rules: s3.LifecycleRule[] = [
    { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
    {
      id: 'archive-noncurrent-versions',
      prefix: archive.prefix,
      noncurrentVersionExpiration: Duration.days(archive.noncurrentVersionExpirationDays),
      expiredObjectDeleteMarker: true,
    },
    {
      // State objects are rewritten on every poll that archives something; keep a week of history.
      id: 'state-noncurrent-versions',
      prefix: archive.statePrefix,
      noncurrentVersionExpiration: Duration.days(7),
      expiredObjectDeleteMarker: true,
    },
  ];
  if (transitions.length > 0) {
    rules.push({
      id: 'archive-transitions',
      prefix: archive.prefix,
      // S3 bills IA and Glacier IR objects as at least 128 KB; smaller ones would cost more there.
      objectSizeGreaterThan: archive.minTransitionSizeBytes,
      transitions,
    });
  }
  if (archive.expireAfterDays !== undefined) {
    rules.push({
      id: 'archive-expiration',
      prefix: archive.prefix,
      expiration: Duration.days(archive.expireAfterDays),
    });
  }
  return rules;
}
