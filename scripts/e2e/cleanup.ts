import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketTaggingCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  PutBucketLoggingCommand,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3';
import { DeleteSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { realClock, type Clock } from './verify';

/**
 * What `cdk destroy` leaves behind on purpose (docs/deploy.md): the archive and access-log buckets
 * and the created secret are RETAINed. The test stack's are removed here, the buckets with every
 * object version and delete marker.
 */

/** The tag CloudFormation puts on every bucket it creates. */
const STACK_NAME_TAG = 'aws:cloudformation:stack-name';

function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? 'Error';
}

export interface EmptyBucketOptions {
  /** Tries of empty-then-delete: server access logs can land after the bucket was emptied. @default 4 */
  readonly attempts?: number;
  /** @default 15000 */
  readonly retryDelayMs?: number;
  readonly clock?: Clock;
}

export interface BucketRemoval {
  readonly outcome: 'deleted' | 'absent';
  /** Object versions and delete markers removed. */
  readonly removed: number;
}

/** Deletes every object version and delete marker, then the bucket. Throws if it cannot. */
export async function emptyAndDeleteBucket(
  s3: S3Client,
  bucket: string,
  options: EmptyBucketOptions = {},
): Promise<BucketRemoval> {
  const attempts = options.attempts ?? 4;
  const clock = options.clock ?? realClock;
  let removed = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      removed += await emptyBucket(s3, bucket);
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      return { outcome: 'deleted', removed };
    } catch (error) {
      if (errorName(error) === 'NoSuchBucket')
        return { outcome: removed > 0 ? 'deleted' : 'absent', removed };
      if (errorName(error) !== 'BucketNotEmpty' || attempt >= attempts) throw error;
      await clock.sleep(options.retryDelayMs ?? 15_000);
    }
  }
}

/** Deletes what the bucket holds, page by page; returns how many versions and markers went. */
async function emptyBucket(s3: S3Client, bucket: string): Promise<number> {
  let removed = 0;
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
        ...(versionMarker !== undefined ? { VersionIdMarker: versionMarker } : {}),
      }),
    );
    const targets: ObjectIdentifier[] = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
      .filter((v) => v.Key !== undefined)
      .map((v) => ({ Key: v.Key!, ...(v.VersionId ? { VersionId: v.VersionId } : {}) }));
    // A page holds at most 1,000 entries, DeleteObjects takes at most 1,000.
    for (let i = 0; i < targets.length; i += 1000) {
      const batch = targets.slice(i, i + 1000);
      const out = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } }),
      );
      const errors = out.Errors ?? [];
      if (errors.length > 0) {
        const first = errors[0]!;
        throw Object.assign(
          new Error(
            `could not delete ${errors.length} object version(s) from ${bucket}, e.g. ${first.Key}: ${first.Code}`,
          ),
          { name: 'DeleteObjectsFailed' },
        );
      }
      removed += batch.length;
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker !== undefined || versionMarker !== undefined);
  return removed;
}

/** Stops server access logging of a bucket (so emptying it logs nothing more). Best effort. */
export async function stopAccessLogging(s3: S3Client, bucket: string): Promise<void> {
  await s3
    .send(new PutBucketLoggingCommand({ Bucket: bucket, BucketLoggingStatus: {} }))
    .catch(() => undefined);
}

/**
 * The buckets CloudFormation created for a stack, found even when the deployment failed and left
 * no outputs: names start with the lower-cased stack name, and the `aws:cloudformation:stack-name`
 * tag must be exactly the stack's, so nothing else is ever picked up.
 */
export async function findStackBuckets(s3: S3Client, stackName: string): Promise<string[]> {
  const prefix = `${stackName.toLowerCase()}-`;
  const candidates: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListBucketsCommand({
        Prefix: prefix,
        MaxBuckets: 1000,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const b of page.Buckets ?? []) if (b.Name?.startsWith(prefix)) candidates.push(b.Name);
    token = page.ContinuationToken;
  } while (token);
  const found: string[] = [];
  for (const bucket of candidates) {
    try {
      const tags = await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }));
      if (tags.TagSet?.some((t) => t.Key === STACK_NAME_TAG && t.Value === stackName)) found.push(bucket);
    } catch {
      // No tags (NoSuchTagSet), or gone: not provably this stack's.
    }
  }
  return found;
}

/** Deletes a secret at once, without the recovery window. */
export async function deleteSecretNow(
  sm: SecretsManagerClient,
  secretId: string,
): Promise<'deleted' | 'absent'> {
  try {
    await sm.send(new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }));
    return 'deleted';
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return 'absent';
    throw error;
  }
}
