import { S3Client } from '@aws-sdk/client-s3';

export interface S3ClientSettings {
  readonly region?: string;
  /** An S3-compatible endpoint instead of AWS's, e.g. `http://127.0.0.1:9000`. */
  readonly endpoint?: string;
  /** Address buckets as `endpoint/bucket/key` rather than `bucket.endpoint/key`; most S3-compatible servers need it. */
  readonly forcePathStyle?: boolean;
}

/**
 * Builds the S3 client the archive store is given. Only settings that are present are passed, so
 * everything else (credentials, retries, request checksums) keeps the SDK's defaults.
 */
export function createS3Client(settings: S3ClientSettings = {}): S3Client {
  return new S3Client({
    ...(settings.region !== undefined ? { region: settings.region } : {}),
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    ...(settings.forcePathStyle !== undefined ? { forcePathStyle: settings.forcePathStyle } : {}),
  });
}
