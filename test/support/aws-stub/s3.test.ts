import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { startAwsStub, type AwsStub } from './index';
import { checksumOf } from './s3';

/** The stub's S3 against the real S3Client, configured only through the environment (as in Lambda). */

let aws: AwsStub;
let s3: S3Client;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startAwsStub();
  Object.assign(process.env, aws.env());
  s3 = new S3Client({}); // no endpoint, no forcePathStyle: the SDK goes path-style for an IP endpoint
});
afterAll(async () => {
  s3.destroy();
  process.env = saved;
  await aws.close();
});
beforeEach(() => aws.reset());

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('base64');
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

async function rejected(promise: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await promise;
  } catch (error) {
    return error as S3ServiceException;
  }
  throw new Error('expected a rejection');
}

test('PutObject stores bytes 0-255 exactly, with the default CRC32 checksum, and GetObject returns them', async () => {
  const put = await s3.send(
    new PutObjectCommand({ Bucket: 'b', Key: 'dir/all bytes+é.bin', Body: allBytes }),
  );
  expect(aws.s3.object('b', 'dir/all bytes+é.bin')).toEqual(allBytes);
  expect(put.ETag).toBe(`"${createHash('md5').update(allBytes).digest('hex')}"`);
  expect(aws.s3.info('b', 'dir/all bytes+é.bin')?.checksum.algorithm).toBe('crc32');
  const got = await s3.send(
    new GetObjectCommand({ Bucket: 'b', Key: 'dir/all bytes+é.bin', ChecksumMode: 'ENABLED' }),
  );
  expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(allBytes);
  expect(got.ChecksumCRC32).toBeDefined();
  expect(aws.counts()).toEqual({ 'S3.PutObject': 1, 'S3.GetObject': 1 });
});

test('a streamed multi-chunk Readable is decoded from aws-chunked, its trailing checksum verified', async () => {
  const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(50_000 + i, i));
  const whole = Buffer.concat(chunks);
  await s3.send(
    new PutObjectCommand({
      Bucket: 'b',
      Key: 'streamed',
      Body: Readable.from(chunks),
      ContentLength: whole.length,
    }),
  );
  expect(aws.s3.object('b', 'streamed')?.equals(whole)).toBe(true);
  const [call] = aws.calls();
  expect(call!.requestBytes).toBeGreaterThan(whole.length); // the framing is counted as sent
  const head = await s3.send(
    new HeadObjectCommand({ Bucket: 'b', Key: 'streamed', ChecksumMode: 'ENABLED' }),
  );
  expect(head.ContentLength).toBe(whole.length);
  expect(head.ChecksumCRC32 ?? head.ChecksumCRC64NVME ?? head.ChecksumCRC32C).toBeDefined();
});

test('a 6 MB body with ChecksumSHA256, metadata and content type, as the archive store sends it', async () => {
  const body = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7919) & 0xff;
  await s3.send(
    new PutObjectCommand({
      Bucket: 'archive',
      Key: 'a/x.eml',
      Body: body,
      ContentLength: body.length,
      ContentType: 'message/rfc822',
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: sha256(body),
      IfNoneMatch: '*',
      Metadata: { sha256: 'abc', 'account-id': 'acct' },
    }),
  );
  expect(aws.s3.object('archive', 'a/x.eml')?.equals(body)).toBe(true);
  const head = await s3.send(
    new HeadObjectCommand({ Bucket: 'archive', Key: 'a/x.eml', ChecksumMode: 'ENABLED' }),
  );
  expect(head).toMatchObject({
    ChecksumSHA256: sha256(body),
    ChecksumType: 'FULL_OBJECT',
    ContentType: 'message/rfc822',
    Metadata: { sha256: 'abc', 'account-id': 'acct' },
    ContentLength: body.length,
  });
});

test('If-None-Match: * answers 412 when the key exists; If-Match 412 on another ETag, 404 on no object', async () => {
  const first = await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'one', IfNoneMatch: '*' }));
  const again = await rejected(
    s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'two', IfNoneMatch: '*' })),
  );
  expect(again.$metadata.httpStatusCode).toBe(412);
  expect(again.name).toBe('PreconditionFailed');
  expect(aws.s3.object('b', 'k')?.toString()).toBe('one');
  const stale = await rejected(
    s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x', IfMatch: '"0000"' })),
  );
  expect(stale.$metadata.httpStatusCode).toBe(412);
  await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'three', IfMatch: first.ETag }));
  expect(aws.s3.object('b', 'k')?.toString()).toBe('three');
  const none = await rejected(
    s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'gone', Body: 'x', IfMatch: first.ETag })),
  );
  expect(none.$metadata.httpStatusCode).toBe(404);
  expect(aws.calls().map((c) => c.error)).toEqual([
    undefined,
    'PreconditionFailed',
    'PreconditionFailed',
    undefined,
    'NoSuchKey',
  ]);
});

test('a checksum that does not match the bytes is 400 BadDigest and nothing is stored', async () => {
  const error = await rejected(
    s3.send(
      new PutObjectCommand({
        Bucket: 'b',
        Key: 'k',
        Body: 'hello',
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: sha256(Buffer.from('other')),
      }),
    ),
  );
  expect(error.$metadata.httpStatusCode).toBe(400);
  expect(error.name).toBe('BadDigest');
  expect(aws.s3.object('b', 'k')).toBeUndefined();
});

test('a missing key is 404 NoSuchKey, or 403 AccessDenied when asked', async () => {
  const get = await rejected(s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'none' })));
  expect([get.name, get.$metadata.httpStatusCode]).toEqual(['NoSuchKey', 404]);
  const head = await rejected(s3.send(new HeadObjectCommand({ Bucket: 'b', Key: 'none' })));
  expect(head.$metadata.httpStatusCode).toBe(404);
  aws.s3.missingKeyAs('AccessDenied');
  const denied = await rejected(s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'none' })));
  expect([denied.name, denied.$metadata.httpStatusCode]).toEqual(['AccessDenied', 403]);
  expect(aws.calls().map((c) => c.error)).toEqual(['NoSuchKey', 'NoSuchKey', 'AccessDenied']);
});

test('multipart with SHA256 parts and a conditional completion, as the archive store does it', async () => {
  const parts = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.from('tail')];
  const whole = Buffer.concat(parts);
  const upload = async (): Promise<string> => {
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: 'b',
        Key: 'big',
        ChecksumAlgorithm: 'SHA256',
        ChecksumType: 'COMPOSITE',
        Metadata: { sha256: 'h' },
      }),
    );
    const done = [];
    for (const [i, part] of parts.entries()) {
      const out = await s3.send(
        new UploadPartCommand({
          Bucket: 'b',
          Key: 'big',
          UploadId,
          PartNumber: i + 1,
          Body: part,
          ContentLength: part.length,
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: sha256(part),
        }),
      );
      done.push({ PartNumber: i + 1, ETag: out.ETag, ChecksumSHA256: sha256(part) });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'b',
        Key: 'big',
        UploadId,
        MultipartUpload: { Parts: done },
        ChecksumType: 'COMPOSITE',
        MpuObjectSize: whole.length,
        IfNoneMatch: '*',
      }),
    );
    return UploadId!;
  };
  await upload();
  expect(aws.s3.object('b', 'big')?.equals(whole)).toBe(true);
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'b', Key: 'big', ChecksumMode: 'ENABLED' }));
  expect(head.ChecksumSHA256).toMatch(/-2$/);
  expect(head.ChecksumType).toBe('COMPOSITE');
  expect(head.ETag).toMatch(/-2"$/);
  expect(head.Metadata).toEqual({ sha256: 'h' });
  const error = await rejected(upload());
  expect(error.$metadata.httpStatusCode).toBe(412);
  expect(aws.s3.uploads()).toHaveLength(1); // the failed completion leaves it open, as S3 does
  expect(aws.counts()).toMatchObject({
    'S3.CreateMultipartUpload': 2,
    'S3.UploadPart': 4,
    'S3.CompleteMultipartUpload': 2,
  });
});

test('ListObjectsV2 pages with continuation tokens', async () => {
  for (const k of ['p/1', 'p/2', 'p/3', 'q/1']) await aws.s3.put('b', k, k);
  const first = await s3.send(new ListObjectsV2Command({ Bucket: 'b', Prefix: 'p/', MaxKeys: 2 }));
  expect(first.Contents?.map((c) => c.Key)).toEqual(['p/1', 'p/2']);
  const second = await s3.send(
    new ListObjectsV2Command({ Bucket: 'b', Prefix: 'p/', ContinuationToken: first.NextContinuationToken }),
  );
  expect(second.Contents?.map((c) => c.Key)).toEqual(['p/3']);
  expect(second.IsTruncated).toBe(false);
});

test('injected faults fail the next calls (the SDK retries a 503) and unknown operations are 400 and counted', async () => {
  aws.fail('S3.PutObject', { times: 2, status: 503, name: 'SlowDown' });
  await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }));
  expect(aws.calls().map((c) => c.status)).toEqual([503, 503, 200]);
  expect(aws.s3.object('b', 'k')?.toString()).toBe('x');
  const res = await fetch(`${aws.url}/b/k?tagging`, { method: 'GET' });
  expect(res.status).toBe(400);
  expect(await res.text()).toContain('UnknownOperationException');
  expect(aws.calls().at(-1)).toMatchObject({
    service: 'S3',
    implemented: false,
    error: 'UnknownOperationException',
  });
});

test('raw aws-chunked: the trailing checksum is verified; any Authorization is accepted', async () => {
  const data = Buffer.from('hello, chunked world');
  const frame = (trailer: string): Buffer =>
    Buffer.concat([
      Buffer.from(`5\r\n`),
      data.subarray(0, 5),
      Buffer.from(`\r\n${(data.length - 5).toString(16)}\r\n`),
      data.subarray(5),
      Buffer.from(`\r\n0\r\nx-amz-checksum-crc32:${trailer}\r\n\r\n`),
    ]);
  const put = (body: Buffer): Promise<Response> =>
    fetch(`${aws.url}/b/raw`, {
      method: 'PUT',
      headers: {
        authorization: 'AWS4-HMAC-SHA256 Credential=nobody, Signature=garbage',
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': String(data.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
      body,
    });
  const bad = await put(frame(await checksumOf('crc32', Buffer.from('other'))));
  expect(bad.status).toBe(400);
  expect(await bad.text()).toContain('<Code>BadDigest</Code>');
  expect(aws.s3.object('b', 'raw')).toBeUndefined();
  const good = await put(frame(await checksumOf('crc32', data)));
  expect(good.status).toBe(200);
  expect(aws.s3.object('b', 'raw')).toEqual(data);
});
