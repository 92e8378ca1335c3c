import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ArchiveError } from '../../../functions/adapters/errors';
import { createS3Client } from '../../../functions/adapters/s3-client';
import { S3ArchiveStore, type S3ArchiveStoreOptions } from '../../../functions/adapters/s3-archive-store';
import { hashedBuffers, type ArchiveItem } from '../../../functions/poller/ports';

const MiB = 1024 * 1024;
const s3Mock = mockClient(S3Client);

const sha256Hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sha256B64 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');

/** A message with 8-bit bytes and CRLFs, so any re-encoding would show. */
const MESSAGE = Buffer.concat([
  Buffer.from('From: a@example.com\r\nSubject: caf\xe9\r\n\r\n', 'latin1'),
  Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x0a]),
]);
const SHA = sha256Hex(MESSAGE);
const KEY = `support/${SHA}.eml`;

const ARCHIVED_AT = new Date('2026-12-07T10:00:00.123Z');

function itemOf(bytes: Buffer, overrides: Partial<ArchiveItem> = {}): ArchiveItem {
  return {
    key: `support/${sha256Hex(bytes)}.eml`,
    accountId: 'support',
    uidl: 'UID-17',
    sha256: sha256Hex(bytes),
    size: bytes.length,
    archivedAt: ARCHIVED_AT,
    source: 'pop3-poller',
    body: () => Readable.from([bytes]),
    ...overrides,
  };
}

function serviceError(name: string, httpStatusCode: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `${name} from the test`,
  });
}

const sleeps: number[] = [];
function store(options: Partial<S3ArchiveStoreOptions> = {}): S3ArchiveStore {
  return new S3ArchiveStore(new S3Client({ region: 'eu-west-1' }), {
    bucket: 'mail-archive',
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
}

beforeEach(() => {
  s3Mock.reset();
  sleeps.length = 0;
});

describe('Class: S3ArchiveStore', () => {
  describe('small messages', () => {
    it('sends one conditional PutObject with the SHA-256 checksum, content type and metadata', async () => {
      s3Mock.on(PutObjectCommand).resolves({ ETag: '"e"' });

      const stored = await store().put(itemOf(MESSAGE));

      expect(stored).toEqual({
        location: `s3://mail-archive/${KEY}`,
        sha256: SHA,
        size: MESSAGE.length,
        alreadyExisted: false,
        archivedAt: ARCHIVED_AT,
      });
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
      expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
        IfNoneMatch: '*',
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: sha256B64(MESSAGE),
      });
      // The exact input: nothing more is sent (no SSE parameters without a KMS key).
      expect(s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input).toEqual({
        Bucket: 'mail-archive',
        Key: KEY,
        Body: MESSAGE,
        ContentLength: MESSAGE.length,
        ContentType: 'message/rfc822',
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: sha256B64(MESSAGE),
        IfNoneMatch: '*',
        Metadata: {
          'account-id': 'support',
          uidl: 'UID-17',
          sha256: SHA,
          'archived-at': '2026-12-07T10:00:00.123Z',
          'event-source': 'pop3-poller',
        },
      });
      expect(s3Mock.calls()).toHaveLength(1);
    });

    it('passes the body as a Buffer with the bytes exactly as received, even from many chunks', async () => {
      s3Mock.on(PutObjectCommand).resolves({});
      const chunks = Array.from(MESSAGE).map((byte) => Buffer.from([byte]));

      await store().put({ ...itemOf(MESSAGE), body: () => Readable.from(chunks) });

      const body = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input.Body;
      expect(Buffer.isBuffer(body)).toBe(true);
      expect((body as Buffer).equals(MESSAGE)).toBe(true);
    });

    it('encrypts with the KMS key and a bucket key when kmsKeyId is set', async () => {
      s3Mock.on(PutObjectCommand).resolves({});
      const kmsKeyId = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

      await store({ kmsKeyId }).put(itemOf(MESSAGE));

      expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: kmsKeyId,
        BucketKeyEnabled: true,
      });
    });

    it('prepends the prefix to the key and leaves a UIDL that is not header-safe out of the metadata', async () => {
      s3Mock.on(PutObjectCommand).resolves({});

      const stored = await store({ prefix: 'mail/' }).put(itemOf(MESSAGE, { uidl: 'uid with spaces\u00e9' }));

      expect(stored.location).toBe(`s3://mail-archive/mail/${KEY}`);
      expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
        Key: `mail/${KEY}`,
        Metadata: {
          'account-id': 'support',
          sha256: SHA,
          'archived-at': '2026-12-07T10:00:00.123Z',
          'event-source': 'pop3-poller',
        },
      });
    });

    it('omits the uidl metadata when the item has no UIDL', async () => {
      s3Mock.on(PutObjectCommand).resolves({});
      const { uidl: _uidl, ...withoutUidl } = itemOf(MESSAGE);

      await store().put(withoutUidl);

      expect(s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input.Metadata).toEqual({
        'account-id': 'support',
        sha256: SHA,
        'archived-at': '2026-12-07T10:00:00.123Z',
        'event-source': 'pop3-poller',
      });
    });

    it('sends a Buffer hashed already (hashedBuffers) as it is, without reading the stream, and still checks it', async () => {
      s3Mock.on(PutObjectCommand).resolves({});
      const held = Buffer.from(MESSAGE);
      hashedBuffers.set(held, SHA);
      const item = itemOf(held, {
        bytes: held,
        body: () => {
          throw new Error('the stream should not be read');
        },
      });

      await store().put(item);

      const sent = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input;
      expect(sent.Body).toBe(held); // the very Buffer: no copy
      expect(sent.ChecksumSHA256).toBe(sha256B64(MESSAGE));
      // A Buffer recorded with another digest than the item's is refused, and nothing is sent.
      s3Mock.resetHistory();
      const other = Buffer.from('Subject: other\r\n\r\n');
      hashedBuffers.set(other, 'cd'.repeat(32));
      await expect(store().put(itemOf(other, { bytes: other }))).rejects.toMatchObject({
        reason: 'integrity',
      });
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
    });

    it('stores an empty message with a single PutObject', async () => {
      s3Mock.on(PutObjectCommand).resolves({});
      const empty = Buffer.alloc(0);

      const stored = await store({ multipartThresholdBytes: 0 }).put(itemOf(empty));

      expect(stored.size).toBe(0);
      expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
        ContentLength: 0,
        ChecksumSHA256: sha256B64(empty),
      });
    });
  });

  describe('verification before sending', () => {
    it('rejects a body that does not hash to the item sha256 and sends nothing', async () => {
      const item = itemOf(MESSAGE, { sha256: 'ab'.repeat(32) });

      const error = await store()
        .put(item)
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ArchiveError);
      expect(error).toMatchObject({ reason: 'integrity', code: 'EINTEGRITY', retryable: true });
      expect((error as Error).message).toContain('hashes to');
      expect(s3Mock.calls()).toHaveLength(0);
    });

    it('rejects a body longer than the declared size and sends nothing', async () => {
      const item = itemOf(MESSAGE, { size: MESSAGE.length - 1 });

      await expect(store().put(item)).rejects.toMatchObject({ reason: 'integrity' });
      expect(s3Mock.calls()).toHaveLength(0);
    });

    it('rejects a body shorter than the declared size', async () => {
      const item = itemOf(MESSAGE, { size: MESSAGE.length + 1 });

      await expect(store().put(item)).rejects.toThrow(/is \d+ octets, expected/);
      expect(s3Mock.calls()).toHaveLength(0);
    });

    it('maps S3 BadDigest (checksum mismatch in transit) to an integrity error', async () => {
      s3Mock.on(PutObjectCommand).rejects(serviceError('BadDigest', 400));

      await expect(store().put(itemOf(MESSAGE))).rejects.toMatchObject({
        reason: 'integrity',
        code: 'EINTEGRITY',
        retryable: true,
      });
    });
  });

  describe('when the object already exists (412)', () => {
    it('reads the stored checksum back and reports an identical object as alreadyExisted', async () => {
      s3Mock.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
      s3Mock.on(HeadObjectCommand).resolves({
        ContentLength: MESSAGE.length,
        ChecksumSHA256: sha256B64(MESSAGE),
        ChecksumType: 'FULL_OBJECT',
        Metadata: { 'account-id': 'support', sha256: SHA, 'archived-at': '2026-12-01T08:00:00.456Z' },
      });

      const stored = await store().put(itemOf(MESSAGE));

      expect(stored).toEqual({
        location: `s3://mail-archive/${KEY}`,
        sha256: SHA,
        size: MESSAGE.length,
        alreadyExisted: true,
        // The time recorded with the existing object, not this put's.
        archivedAt: new Date('2026-12-01T08:00:00.456Z'),
      });
      expect(s3Mock.commandCalls(HeadObjectCommand)[0]!.args[0].input).toEqual({
        Bucket: 'mail-archive',
        Key: KEY,
        ChecksumMode: 'ENABLED',
      });
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    });

    it('uses the sha256 metadata when the stored checksum is composite (a multipart object)', async () => {
      s3Mock.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
      s3Mock.on(HeadObjectCommand).resolves({
        ContentLength: MESSAGE.length,
        ChecksumSHA256: 'bm90IGEgd2hvbGUtb2JqZWN0IGhhc2g=-3',
        ChecksumType: 'COMPOSITE',
        Metadata: { sha256: SHA },
      });

      await expect(store().put(itemOf(MESSAGE))).resolves.toMatchObject({ alreadyExisted: true });
    });

    it("takes an older object's archive time from its LastModified when it has no archived-at metadata", async () => {
      s3Mock.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
      const lastModified = new Date('2025-01-02T03:04:05.000Z');
      s3Mock.on(HeadObjectCommand).resolves({
        ContentLength: MESSAGE.length,
        ChecksumSHA256: sha256B64(MESSAGE),
        ChecksumType: 'FULL_OBJECT',
        LastModified: lastModified,
        Metadata: { 'account-id': 'support', sha256: SHA },
      });

      await expect(store().put(itemOf(MESSAGE))).resolves.toMatchObject({
        alreadyExisted: true,
        archivedAt: lastModified,
      });
    });

    it('refuses, without overwriting, when a different object is at the key', async () => {
      const other = Buffer.from('another message');
      s3Mock.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
      s3Mock.on(HeadObjectCommand).resolves({
        ContentLength: other.length,
        ChecksumSHA256: sha256B64(other),
        ChecksumType: 'FULL_OBJECT',
        Metadata: { sha256: sha256Hex(other) },
      });

      const error = await store()
        .put(itemOf(MESSAGE))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ArchiveError);
      expect(error).toMatchObject({ reason: 'conflict', code: 'EINTEGRITY', retryable: false, key: KEY });
      expect((error as Error).message).toMatch(
        /a different object already exists at s3:\/\/mail-archive\/.*not overwritten/,
      );
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
      expect(s3Mock.calls()).toHaveLength(2);
    });

    it('trusts the service-computed checksum over metadata that claims a match', async () => {
      const other = Buffer.from('another message');
      s3Mock.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
      s3Mock.on(HeadObjectCommand).resolves({
        ContentLength: MESSAGE.length,
        ChecksumSHA256: sha256B64(other),
        Metadata: { sha256: SHA },
      });

      await expect(store().put(itemOf(MESSAGE))).rejects.toMatchObject({ reason: 'conflict' });
    });

    it('refuses when the existing object has no SHA-256 to compare', async () => {
      s3Mock.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
      s3Mock.on(HeadObjectCommand).resolves({ ContentLength: MESSAGE.length, Metadata: {} });

      await expect(store().put(itemOf(MESSAGE))).rejects.toThrow(/no SHA-256 to compare.*not overwritten/);
    });

    it('writes again when the object disappeared between the 412 and the HEAD', async () => {
      s3Mock.on(PutObjectCommand).rejectsOnce(serviceError('PreconditionFailed', 412)).resolves({});
      s3Mock.on(HeadObjectCommand).rejects(serviceError('NotFound', 404));

      await expect(store().put(itemOf(MESSAGE))).resolves.toMatchObject({ alreadyExisted: false });
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 2);
    });
  });

  describe('when a concurrent conditional write conflicts (409)', () => {
    it('retries the write after a backoff', async () => {
      s3Mock.on(PutObjectCommand).rejectsOnce(serviceError('ConditionalRequestConflict', 409)).resolves({});

      await expect(store().put(itemOf(MESSAGE))).resolves.toMatchObject({ alreadyExisted: false });
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 2);
      expect(s3Mock).toHaveReceivedNthSpecificCommandWith(2, PutObjectCommand, {
        IfNoneMatch: '*',
        ChecksumSHA256: sha256B64(MESSAGE),
      });
      expect(sleeps).toHaveLength(1);
      expect(sleeps[0]).toBeGreaterThanOrEqual(100);
      expect(sleeps[0]).toBeLessThanOrEqual(200);
    });

    it('gives up after maxAttempts with a retryable error', async () => {
      s3Mock.on(PutObjectCommand).rejects(serviceError('ConditionalRequestConflict', 409));

      const error = await store({ maxAttempts: 3 })
        .put(itemOf(MESSAGE))
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ reason: 'unavailable', code: 'EARCHIVE', retryable: true });
      expect((error as Error).message).toContain('3 attempts');
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 3);
      expect(sleeps).toHaveLength(2);
    });
  });

  describe('service failures', () => {
    it('wraps AccessDenied as a non-retryable archive error naming the location', async () => {
      s3Mock.on(PutObjectCommand).rejects(serviceError('AccessDenied', 403));

      const error = await store()
        .put(itemOf(MESSAGE))
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ reason: 'unavailable', code: 'EARCHIVE', retryable: false });
      expect((error as Error).message).toContain(`s3://mail-archive/${KEY}`);
      expect((error as Error).message).toContain('AccessDenied');
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    });

    it('marks a 503 SlowDown as retryable', async () => {
      s3Mock.on(PutObjectCommand).rejects(serviceError('SlowDown', 503));

      await expect(store().put(itemOf(MESSAGE))).rejects.toMatchObject({ code: 'EARCHIVE', retryable: true });
    });
  });

  describe('large messages (multipart)', () => {
    // 12 MiB + 3 bytes in 5 MiB parts: 5 MiB, 5 MiB, 2 MiB + 3.
    const big = Buffer.alloc(12 * MiB + 3);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 251;
    const bigSha = sha256Hex(big);
    const bigKey = `support/${bigSha}.eml`;
    const parts = [big.subarray(0, 5 * MiB), big.subarray(5 * MiB, 10 * MiB), big.subarray(10 * MiB)];
    const options = { multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB };
    /** The body in uneven chunks that straddle part boundaries. */
    const bigItem = (): ArchiveItem => ({
      ...itemOf(big),
      body: () =>
        Readable.from([
          big.subarray(0, 3 * MiB + 7),
          big.subarray(3 * MiB + 7, 11 * MiB),
          big.subarray(11 * MiB),
        ]),
    });

    function mockMultipart(): void {
      s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
      s3Mock
        .on(UploadPartCommand)
        .callsFake((input: { PartNumber: number }) => ({ ETag: `"etag-${input.PartNumber}"` }));
      s3Mock.on(CompleteMultipartUploadCommand).resolves({});
      s3Mock.on(AbortMultipartUploadCommand).resolves({});
    }

    it('uploads parts with their own checksums and completes conditionally', async () => {
      mockMultipart();
      const kmsKeyId = 'alias/mail';

      const stored = await store({ ...options, kmsKeyId }).put(bigItem());

      expect(stored).toEqual({
        location: `s3://mail-archive/${bigKey}`,
        sha256: bigSha,
        size: big.length,
        alreadyExisted: false,
        archivedAt: ARCHIVED_AT,
      });
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
      expect(s3Mock.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input).toEqual({
        Bucket: 'mail-archive',
        Key: bigKey,
        ContentType: 'message/rfc822',
        ChecksumAlgorithm: 'SHA256',
        ChecksumType: 'COMPOSITE',
        Metadata: {
          'account-id': 'support',
          uidl: 'UID-17',
          sha256: bigSha,
          'archived-at': '2026-12-07T10:00:00.123Z',
          'event-source': 'pop3-poller',
        },
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: kmsKeyId,
        BucketKeyEnabled: true,
      });

      const uploads = s3Mock.commandCalls(UploadPartCommand).map((call) => call.args[0].input);
      expect(uploads).toHaveLength(3);
      uploads.forEach(({ Body, ...input }, i) => {
        const part = parts[i]!;
        // Buffer.equals: Jest's deep equality walks 5 MiB byte by byte, which takes seconds.
        expect(Buffer.isBuffer(Body) && Body.equals(part)).toBe(true);
        expect(input).toEqual({
          Bucket: 'mail-archive',
          Key: bigKey,
          UploadId: 'upload-1',
          PartNumber: i + 1,
          ContentLength: part.length,
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: sha256B64(part),
        });
      });

      expect(s3Mock.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input).toEqual({
        Bucket: 'mail-archive',
        Key: bigKey,
        UploadId: 'upload-1',
        MultipartUpload: {
          Parts: parts.map((part, i) => ({
            PartNumber: i + 1,
            ETag: `"etag-${i + 1}"`,
            ChecksumSHA256: sha256B64(part),
          })),
        },
        ChecksumType: 'COMPOSITE',
        MpuObjectSize: big.length,
        IfNoneMatch: '*',
      });
      expect(s3Mock).toHaveReceivedCommandTimes(AbortMultipartUploadCommand, 0);
    });

    it('aborts without completing when the whole body does not match the item sha256', async () => {
      mockMultipart();

      const error = await store(options)
        .put({ ...bigItem(), sha256: 'cd'.repeat(32) })
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ reason: 'integrity', code: 'EINTEGRITY' });
      expect(s3Mock).toHaveReceivedCommandTimes(CompleteMultipartUploadCommand, 0);
      expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, {
        Bucket: 'mail-archive',
        Key: `support/${bigSha}.eml`,
        UploadId: 'upload-1',
      });
    });

    it('aborts and compares when the completion finds an existing object (412)', async () => {
      mockMultipart();
      s3Mock.on(CompleteMultipartUploadCommand).rejects(serviceError('PreconditionFailed', 412));
      s3Mock.on(HeadObjectCommand).resolves({
        ContentLength: big.length,
        ChecksumSHA256: 'Y29tcG9zaXRl-3',
        ChecksumType: 'COMPOSITE',
        Metadata: { sha256: bigSha },
      });

      await expect(store(options).put(bigItem())).resolves.toMatchObject({ alreadyExisted: true });
      expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, { UploadId: 'upload-1' });
      expect(s3Mock).toHaveReceivedCommandWith(HeadObjectCommand, { Key: bigKey, ChecksumMode: 'ENABLED' });
    });

    it('aborts and uploads again from a fresh body after a 409 on completion', async () => {
      mockMultipart();
      s3Mock
        .on(CompleteMultipartUploadCommand)
        .rejectsOnce(serviceError('ConditionalRequestConflict', 409))
        .resolves({});

      await expect(store(options).put(bigItem())).resolves.toMatchObject({ alreadyExisted: false });
      expect(s3Mock).toHaveReceivedCommandTimes(AbortMultipartUploadCommand, 1);
      expect(s3Mock).toHaveReceivedCommandTimes(CreateMultipartUploadCommand, 2);
      expect(s3Mock).toHaveReceivedCommandTimes(UploadPartCommand, 6);
      expect(s3Mock).toHaveReceivedCommandTimes(CompleteMultipartUploadCommand, 2);
    });

    it('aborts the upload when a part fails, and reports the failure', async () => {
      mockMultipart();
      s3Mock.on(UploadPartCommand).rejects(serviceError('InternalError', 500));

      await expect(store(options).put(bigItem())).rejects.toMatchObject({
        code: 'EARCHIVE',
        retryable: true,
      });
      expect(s3Mock).toHaveReceivedCommandTimes(UploadPartCommand, 1);
      expect(s3Mock).toHaveReceivedCommandTimes(AbortMultipartUploadCommand, 1);
      expect(s3Mock).toHaveReceivedCommandTimes(CompleteMultipartUploadCommand, 0);
    });
  });

  describe('configuration', () => {
    it('refuses parts smaller than S3 accepts', () => {
      expect(() => store({ partSizeBytes: MiB })).toThrow(/at least 5 MiB/);
    });

    it('refuses a missing bucket', () => {
      expect(() => store({ bucket: '' })).toThrow(/bucket is required/);
    });
  });
});

describe('Function: createS3Client', () => {
  it('passes endpoint and path-style addressing to the client', async () => {
    const client = createS3Client({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
    });

    expect(await client.config.region()).toBe('eu-west-1');
    expect(client.config.forcePathStyle).toBe(true);
    const endpoint = await client.config.endpoint!();
    expect(endpoint).toMatchObject({ hostname: '127.0.0.1', port: 9000, protocol: 'http:' });
  });
});
