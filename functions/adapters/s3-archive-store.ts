import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { hashedBuffers, type ArchiveItem, type ArchiveStore, type StoredObject } from '../poller/ports';
import { ArchiveError } from './errors';
import { backoffMs, describeSdkError, errorName, httpStatus, isTransient, sleep } from './sdk-errors';

/**
 * Archives messages to S3.
 *
 * Key layout: `s3://<bucket>/<prefix><item.key>`, where `item.key` is the workflow's archive key,
 * `<accountId>/<sha256>.eml` (functions/poller/archive-key.ts), and `prefix` is prepended as given
 * (include a trailing `/` to make it a folder). Each object is `Content-Type: message/rfc822` with
 * user metadata `account-id`, `sha256` (hex), `uidl` (when the UIDL is printable ASCII; the
 * workflow normalises it so, and anything else is left out rather than mangled into a header),
 * `archived-at` (ISO 8601, UTC, milliseconds) and `event-source`: what replay rebuilds the
 * message's event from (docs/replay.md). They cost nothing: they travel with the one PutObject.
 *
 * Never overwrite: every write is conditional (`If-None-Match: *`). When S3 answers
 * 412 Precondition Failed, the object already exists; its SHA-256 is read back and compared, and
 * an identical object counts as stored (`alreadyExisted`), a different one is an `ArchiveError`.
 * 409 ConditionalRequestConflict (a concurrent conditional write to the same key) is retried.
 *
 * Verified bytes: the body is hashed as it is read and compared with `item.sha256` before the
 * write is committed, and S3 is given a SHA-256 checksum to verify on its side, so what S3 stores
 * is what the workflow received:
 * - up to `multipartThresholdBytes`, one PutObject with `ChecksumSHA256` of the whole body (S3
 *   rejects the request if the bytes it got hash differently). The body is buffered, because a
 *   precomputed checksum needs a body of known length.
 * - above it, a multipart upload, one part in memory at a time: each UploadPart carries its own
 *   `ChecksumSHA256`, the whole-object hash is checked locally before CompleteMultipartUpload
 *   (itself conditional), and any failure aborts the upload so no parts are left behind. This is
 *   hand-rolled rather than lib-storage's `Upload`, which cannot make the completion conditional
 *   nor hold it back until the whole-object hash is known to match.
 */

const MiB = 1024 * 1024;
/** S3's smallest part (except the last) and its largest number of parts. */
const MIN_PART_BYTES = 5 * MiB;
const MAX_PARTS = 10_000;
/** PutObject's largest body. */
const MAX_SINGLE_PUT_BYTES = 5 * 1024 * MiB;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Printable ASCII without space: safe in an HTTP header, unchanged by S3. */
const HEADER_SAFE = /^[\x21-\x7e]{1,256}$/;

export interface S3ArchiveStoreOptions {
  readonly bucket: string;
  /** Prepended to every archive key as given, e.g. `mail/`. @default '' */
  readonly prefix?: string;
  /** Encrypt with this KMS key (SSE-KMS with an S3 Bucket Key). @default the bucket's default encryption */
  readonly kmsKeyId?: string;
  /** Messages larger than this go up as a multipart upload. @default 16 MiB */
  readonly multipartThresholdBytes?: number;
  /** Part size for multipart uploads, at least 5 MiB; raised when needed to stay within 10,000 parts. @default 8 MiB */
  readonly partSizeBytes?: number;
  /** Writes attempted when S3 keeps answering 409 ConditionalRequestConflict. @default 3 */
  readonly maxAttempts?: number;
  /** First delay between those attempts; doubles each time. @default 200 */
  readonly retryBaseDelayMs?: number;
  /** For tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export class S3ArchiveStore implements ArchiveStore {
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly kmsKeyId: string | undefined;
  private readonly multipartThresholdBytes: number;
  private readonly partSizeBytes: number;
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: S3Client,
    options: S3ArchiveStoreOptions,
  ) {
    if (!options.bucket) throw new Error('S3ArchiveStore: bucket is required');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.kmsKeyId = options.kmsKeyId || undefined;
    this.multipartThresholdBytes = options.multipartThresholdBytes ?? 16 * MiB;
    this.partSizeBytes = options.partSizeBytes ?? 8 * MiB;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 200;
    this.sleep = options.sleep ?? sleep;
    if (
      !Number.isInteger(this.multipartThresholdBytes) ||
      this.multipartThresholdBytes < 0 ||
      this.multipartThresholdBytes > MAX_SINGLE_PUT_BYTES
    ) {
      throw new Error('S3ArchiveStore: multipartThresholdBytes must be an integer from 0 to 5 GiB');
    }
    if (!Number.isInteger(this.partSizeBytes) || this.partSizeBytes < MIN_PART_BYTES) {
      // S3 accepts smaller parts on upload and then fails the whole upload with EntityTooSmall.
      throw new Error('S3ArchiveStore: partSizeBytes must be an integer of at least 5 MiB');
    }
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new Error('S3ArchiveStore: maxAttempts must be a positive integer');
    }
  }

  async put(item: ArchiveItem): Promise<StoredObject> {
    const key = this.prefix + item.key;
    const sha256 = item.sha256.toLowerCase();
    if (!SHA256_HEX.test(sha256)) throw new Error(`S3ArchiveStore: item ${item.key} has no valid sha256`);
    if (!Number.isSafeInteger(item.size) || item.size < 0) {
      throw new Error(`S3ArchiveStore: item ${item.key} has no valid size`);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        if (item.size > this.multipartThresholdBytes) await this.putMultipart(item, key, sha256);
        else await this.putSingle(item, key, sha256);
        return {
          location: this.location(key),
          sha256,
          size: item.size,
          alreadyExisted: false,
          archivedAt: item.archivedAt,
        };
      } catch (error) {
        if (isPreconditionFailed(error)) {
          const existing = await this.compareExisting(item, key, sha256);
          // Gone between the write and the HEAD (deleted by someone else): write it again.
          if (existing !== undefined) return existing;
        } else if (!isConditionalConflict(error)) {
          throw this.wrap(error, key);
        }
        if (attempt >= this.maxAttempts) {
          throw new ArchiveError(
            'unavailable',
            key,
            `writing ${this.location(key)} kept conflicting with another write (${attempt} attempts)`,
            { cause: error },
          );
        }
        await this.sleep(backoffMs(attempt, this.retryBaseDelayMs));
      }
    }
  }

  private async putSingle(item: ArchiveItem, key: string, sha256: string): Promise<void> {
    const body = await readWhole(item, key, sha256);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ContentType: 'message/rfc822',
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: hexToBase64(sha256),
        IfNoneMatch: '*',
        Metadata: metadataFor(item, sha256),
        ...this.encryption(),
      }),
    );
  }

  private async putMultipart(item: ArchiveItem, key: string, sha256: string): Promise<void> {
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        ContentType: 'message/rfc822',
        ChecksumAlgorithm: 'SHA256',
        ChecksumType: 'COMPOSITE',
        Metadata: metadataFor(item, sha256),
        ...this.encryption(),
      }),
    );
    const uploadId = created.UploadId;
    if (!uploadId)
      throw new ArchiveError('unavailable', key, 'S3 CreateMultipartUpload returned no UploadId');
    try {
      const partSize = Math.max(this.partSizeBytes, Math.ceil(item.size / MAX_PARTS / MiB) * MiB);
      const whole = createHash('sha256');
      const parts: CompletedPart[] = [];
      let size = 0;
      for await (const part of readParts(item.body(), partSize)) {
        size += part.length;
        if (size > item.size) throw longerThanDeclared(key, item.size);
        whole.update(part);
        const partNumber = parts.length + 1;
        const checksum = createHash('sha256').update(part).digest('base64');
        const uploaded = await this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: part,
            ContentLength: part.length,
            ChecksumAlgorithm: 'SHA256',
            ChecksumSHA256: checksum,
          }),
        );
        parts.push({ PartNumber: partNumber, ETag: uploaded.ETag, ChecksumSHA256: checksum });
      }
      checkWhole(key, item.size, size, sha256, whole.digest('hex'));
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ChecksumType: 'COMPOSITE',
          MpuObjectSize: item.size,
          IfNoneMatch: '*',
        }),
      );
    } catch (error) {
      // Parts of an unfinished upload are billed until aborted; a failed completion (412, 409)
      // leaves the upload open too.
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  /**
   * After a 412: the stored object's SHA-256 against the item's. Returns undefined when the object
   * is no longer there; throws when it differs or cannot be checked. Never overwrites.
   */
  private async compareExisting(
    item: ArchiveItem,
    key: string,
    sha256: string,
  ): Promise<StoredObject | undefined> {
    let head: HeadObjectCommandOutput;
    try {
      head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }),
      );
    } catch (error) {
      if (httpStatus(error) === 404) return undefined;
      throw this.wrap(error, key);
    }
    const existing = storedSha256(head);
    const location = this.location(key);
    if (existing === undefined) {
      throw new ArchiveError(
        'conflict',
        key,
        `an object already exists at ${location} with no SHA-256 to compare (not written by this store); not overwritten`,
      );
    }
    const size = head.ContentLength ?? item.size;
    if (existing !== sha256 || size !== item.size) {
      throw new ArchiveError(
        'conflict',
        key,
        `a different object already exists at ${location} (sha256 ${existing}, ${size} octets; ` +
          `expected ${sha256}, ${item.size} octets); not overwritten`,
      );
    }
    return {
      location,
      sha256,
      size,
      alreadyExisted: true,
      archivedAt: archivedAtOf(head) ?? item.archivedAt,
    };
  }

  private encryption(): {
    ServerSideEncryption?: 'aws:kms';
    SSEKMSKeyId?: string;
    BucketKeyEnabled?: boolean;
  } {
    if (this.kmsKeyId === undefined) return {};
    // A Bucket Key cuts KMS requests (and their cost and throttling) to a few per bucket.
    return { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.kmsKeyId, BucketKeyEnabled: true };
  }

  private location(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  private wrap(error: unknown, key: string): Error {
    if (error instanceof ArchiveError) return error;
    if (errorName(error) === 'BadDigest') {
      // S3 computed a different SHA-256 from the bytes it received than the one we sent.
      return new ArchiveError(
        'integrity',
        key,
        `S3 rejected ${this.location(key)}: checksum mismatch in transit`,
        {
          cause: error,
        },
      );
    }
    return new ArchiveError(
      'unavailable',
      key,
      `S3 failed for ${this.location(key)}: ${describeSdkError(error)}`,
      {
        cause: error,
        retryable: isTransient(error),
      },
    );
  }
}

function isPreconditionFailed(error: unknown): boolean {
  return httpStatus(error) === 412 || errorName(error) === 'PreconditionFailed';
}

function isConditionalConflict(error: unknown): boolean {
  return httpStatus(error) === 409 || errorName(error) === 'ConditionalRequestConflict';
}

function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

function metadataFor(item: ArchiveItem, sha256: string): Record<string, string> {
  return {
    'account-id': item.accountId,
    ...(item.uidl !== undefined && HEADER_SAFE.test(item.uidl) ? { uidl: item.uidl } : {}),
    sha256,
    'archived-at': item.archivedAt.toISOString(),
    ...(HEADER_SAFE.test(item.source) ? { 'event-source': item.source } : {}),
  };
}

/**
 * When an existing object was archived: its `archived-at` metadata, else (written before this
 * metadata existed) its LastModified, which S3 sets when the write completed.
 */
function archivedAtOf(head: HeadObjectCommandOutput): Date | undefined {
  const recorded = head.Metadata?.['archived-at'];
  if (recorded !== undefined) {
    const at = new Date(recorded);
    if (!Number.isNaN(at.getTime())) return at;
  }
  return head.LastModified;
}

/**
 * The SHA-256 (hex) S3 holds for an object: its full-object checksum when it has one (computed by
 * S3), else the `sha256` metadata this store writes. A multipart object's checksum is composite (a
 * hash of the part hashes, `…-N`), which says nothing directly about the bytes, so the metadata is
 * used there: this store writes it only after checking the whole-object hash itself.
 */
function storedSha256(head: HeadObjectCommandOutput): string | undefined {
  const checksum = head.ChecksumSHA256;
  if (checksum && head.ChecksumType !== 'COMPOSITE' && !/-\d+$/.test(checksum)) {
    return Buffer.from(checksum, 'base64').toString('hex');
  }
  const fromMetadata = head.Metadata?.['sha256']?.toLowerCase();
  return fromMetadata !== undefined && SHA256_HEX.test(fromMetadata) ? fromMetadata : undefined;
}

/** The whole body in one buffer, checked against the item's size and hash. */
async function readWhole(item: ArchiveItem, key: string, sha256: string): Promise<Buffer> {
  // A message held in memory whose digest was computed over exactly these bytes (the spool's,
  // `hashedBuffers`) is sent as it is: no stream, no copy, no second hash (performance: the
  // worker's hot path). It is still checked against the item, and S3 verifies ChecksumSHA256.
  const bytes = item.bytes;
  if (bytes !== undefined) {
    const known = hashedBuffers.get(bytes);
    if (known !== undefined) {
      checkWhole(key, item.size, bytes.length, sha256, known);
      return bytes;
    }
  }
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of item.body()) {
    const bytes = toBuffer(chunk);
    size += bytes.length;
    // Stop reading at once rather than buffer a stream that does not end where it should.
    if (size > item.size) throw longerThanDeclared(key, item.size);
    hash.update(bytes);
    chunks.push(bytes);
  }
  checkWhole(key, item.size, size, sha256, hash.digest('hex'));
  return Buffer.concat(chunks, size);
}

/** Splits a stream into buffers of exactly `partSize` bytes (the last one shorter). */
async function* readParts(stream: Readable, partSize: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of stream) {
    let bytes = toBuffer(chunk);
    while (pendingBytes + bytes.length >= partSize) {
      const take = partSize - pendingBytes;
      pending.push(bytes.subarray(0, take));
      yield Buffer.concat(pending, partSize);
      pending = [];
      pendingBytes = 0;
      bytes = bytes.subarray(take);
    }
    if (bytes.length > 0) {
      pending.push(bytes);
      pendingBytes += bytes.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('archive item body must be a byte stream (got a string chunk)');
}

function longerThanDeclared(key: string, size: number): ArchiveError {
  return new ArchiveError(
    'integrity',
    key,
    `message body for ${key} is longer than its declared ${size} octets`,
  );
}

function checkWhole(key: string, expectedSize: number, size: number, expectedSha: string, sha: string): void {
  if (size !== expectedSize) {
    throw new ArchiveError(
      'integrity',
      key,
      `message body for ${key} is ${size} octets, expected ${expectedSize}`,
    );
  }
  if (sha !== expectedSha) {
    throw new ArchiveError(
      'integrity',
      key,
      `message body for ${key} hashes to ${sha}, expected ${expectedSha}`,
    );
  }
}
