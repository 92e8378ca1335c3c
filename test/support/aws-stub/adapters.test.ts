import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ArchiveStore } from '../../../functions/adapters/s3-archive-store';
import { S3SeenStore } from '../../../functions/adapters/s3-seen-store';
import { startAwsStub, type AwsStub } from './index';

/** The project's own S3 adapters against the stub: what they store is what they were given. */

let aws: AwsStub;
let s3: S3Client;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startAwsStub();
  Object.assign(process.env, aws.env());
  s3 = new S3Client({});
});
afterAll(async () => {
  s3.destroy();
  process.env = saved;
  await aws.close();
});
beforeEach(() => aws.reset());

function item(bytes: Buffer, key = 'acct/x.eml') {
  return {
    key,
    accountId: 'acct',
    uidl: 'u1',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    archivedAt: new Date('2026-12-07T10:00:00.000Z'),
    source: 'pop3-poller',
    body: () => Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
  };
}

test('S3ArchiveStore: single put, then the same again (412, HEAD, alreadyExisted), then multipart', async () => {
  const store = new S3ArchiveStore(s3, {
    bucket: 'archive',
    multipartThresholdBytes: 6 * 1024 * 1024,
    partSizeBytes: 5 * 1024 * 1024,
  });
  const small = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
  expect(await store.put(item(small))).toMatchObject({ alreadyExisted: false });
  expect(await store.put(item(small))).toMatchObject({ alreadyExisted: true });
  expect(aws.s3.object('archive', 'acct/x.eml')).toEqual(small);
  const big = Buffer.alloc(11 * 1024 * 1024 + 17, 7);
  expect(await store.put(item(big, 'acct/big.eml'))).toMatchObject({ alreadyExisted: false });
  expect(aws.s3.object('archive', 'acct/big.eml')?.equals(big)).toBe(true);
  expect(await store.put(item(big, 'acct/big.eml'))).toMatchObject({ alreadyExisted: true });
  expect(aws.s3.uploads()).toEqual([]); // the failed completion was aborted
  expect(aws.counts()).toEqual({
    'S3.PutObject': 2,
    'S3.HeadObject': 2,
    'S3.CreateMultipartUpload': 2,
    'S3.UploadPart': 6,
    'S3.CompleteMultipartUpload': 2,
    'S3.AbortMultipartUpload': 1,
  });
});

test('S3SeenStore: writes If-None-Match, then If-Match on the ETag; a second instance reads it back', async () => {
  const at = new Date('2026-01-01T00:00:00Z');
  const first = new S3SeenStore(s3, { bucket: 'state' });
  await first.add('acct', ['a', 'b'], at);
  await first.flush();
  await first.add('acct', ['c'], at);
  await first.flush();
  const second = new S3SeenStore(s3, { bucket: 'state' });
  expect([...(await second.seen('acct', ['a', 'b', 'c', 'd'])).keys()].sort()).toEqual(['a', 'b', 'c']);
  expect(
    aws
      .calls()
      .filter((c) => c.operation === 'PutObject')
      .map((c) => c.status),
  ).toEqual([200, 200]);
});
