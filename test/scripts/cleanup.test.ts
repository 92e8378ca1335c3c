import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketTaggingCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  PutBucketLoggingCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  DeleteSecretCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  deleteSecretNow,
  emptyAndDeleteBucket,
  findStackBuckets,
  stopAccessLogging,
} from '../../scripts/e2e/cleanup';
import type { Clock } from '../../scripts/e2e/verify';

/** What scripts/aws-e2e.ts removes after `cdk destroy`, against S3 and Secrets Manager mocks. */

const s3Mock = mockClient(S3Client);
const smMock = mockClient(SecretsManagerClient);
const s3 = new S3Client({ region: 'eu-west-1' });
const sm = new SecretsManagerClient({ region: 'eu-west-1' });
const BUCKET = 'pop3e2e-abcdefghij-pollerarchivebucket1a2b3c-xyz';
const STACK = 'Pop3E2E-abcdefghij';

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

const noWait: Clock & { slept: number[] } = {
  slept: [],
  now: () => 0,
  sleep: async (ms) => void noWait.slept.push(ms),
};

beforeEach(() => {
  s3Mock.reset();
  smMock.reset();
  noWait.slept.length = 0;
  s3Mock.on(DeleteObjectsCommand).resolves({});
  s3Mock.on(DeleteBucketCommand).resolves({});
});

describe('scripts/aws-e2e.ts clean-up', () => {
  describe('emptyAndDeleteBucket', () => {
    it('deletes every object version and delete marker, page by page, then the bucket', async () => {
      s3Mock
        .on(ListObjectVersionsCommand)
        .resolvesOnce({
          Versions: [
            { Key: 'mail/e2e/a.eml', VersionId: 'v1' },
            { Key: 'mail/e2e/a.eml', VersionId: 'v0' },
          ],
          DeleteMarkers: [{ Key: 'mail/e2e/gone.eml', VersionId: 'd1' }],
          IsTruncated: true,
          NextKeyMarker: 'mail/e2e/gone.eml',
          NextVersionIdMarker: 'd1',
        })
        .resolvesOnce({ Versions: [{ Key: 'state/e2e.json', VersionId: 'null' }], IsTruncated: false });

      await expect(emptyAndDeleteBucket(s3, BUCKET, { clock: noWait })).resolves.toEqual({
        outcome: 'deleted',
        removed: 4,
      });

      expect(s3Mock).toHaveReceivedNthSpecificCommandWith(2, ListObjectVersionsCommand, {
        Bucket: BUCKET,
        KeyMarker: 'mail/e2e/gone.eml',
        VersionIdMarker: 'd1',
      });
      expect(s3Mock).toHaveReceivedNthSpecificCommandWith(1, DeleteObjectsCommand, {
        Bucket: BUCKET,
        Delete: {
          Objects: [
            { Key: 'mail/e2e/a.eml', VersionId: 'v1' },
            { Key: 'mail/e2e/a.eml', VersionId: 'v0' },
            { Key: 'mail/e2e/gone.eml', VersionId: 'd1' },
          ],
          Quiet: true,
        },
      });
      expect(s3Mock).toHaveReceivedNthSpecificCommandWith(2, DeleteObjectsCommand, {
        Delete: { Objects: [{ Key: 'state/e2e.json', VersionId: 'null' }], Quiet: true },
      });
      expect(s3Mock).toHaveReceivedCommandWith(DeleteBucketCommand, { Bucket: BUCKET });
    });

    it('deletes an empty bucket without a DeleteObjects call', async () => {
      s3Mock.on(ListObjectVersionsCommand).resolves({ IsTruncated: false });
      await expect(emptyAndDeleteBucket(s3, BUCKET)).resolves.toEqual({ outcome: 'deleted', removed: 0 });
      expect(s3Mock).toHaveReceivedCommandTimes(DeleteObjectsCommand, 0);
    });

    it('empties again when access logs arrived after the bucket was emptied', async () => {
      s3Mock
        .on(ListObjectVersionsCommand)
        .resolvesOnce({ Versions: [{ Key: 'archive-bucket/log1', VersionId: 'a' }] })
        .resolvesOnce({ Versions: [{ Key: 'archive-bucket/log2', VersionId: 'b' }] })
        .resolves({});
      s3Mock.on(DeleteBucketCommand).rejectsOnce(s3Error('BucketNotEmpty', 409)).resolves({});

      await expect(emptyAndDeleteBucket(s3, BUCKET, { clock: noWait, retryDelayMs: 7 })).resolves.toEqual({
        outcome: 'deleted',
        removed: 2,
      });
      expect(noWait.slept).toEqual([7]);
      expect(s3Mock).toHaveReceivedCommandTimes(DeleteBucketCommand, 2);
    });

    it('gives up after its attempts, with the error', async () => {
      s3Mock.on(ListObjectVersionsCommand).resolves({});
      s3Mock.on(DeleteBucketCommand).rejects(s3Error('BucketNotEmpty', 409));
      await expect(emptyAndDeleteBucket(s3, BUCKET, { clock: noWait, attempts: 3 })).rejects.toMatchObject({
        name: 'BucketNotEmpty',
      });
      expect(noWait.slept).toHaveLength(2);
    });

    it('counts a bucket that is not there as gone', async () => {
      s3Mock.on(ListObjectVersionsCommand).rejects(s3Error('NoSuchBucket', 404));
      await expect(emptyAndDeleteBucket(s3, BUCKET)).resolves.toEqual({ outcome: 'absent', removed: 0 });
    });

    it('fails when S3 refuses to delete versions, naming one', async () => {
      s3Mock.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: 'k', VersionId: 'v' }] });
      s3Mock
        .on(DeleteObjectsCommand)
        .resolves({ Errors: [{ Key: 'k', VersionId: 'v', Code: 'AccessDenied' }] });
      await expect(emptyAndDeleteBucket(s3, BUCKET)).rejects.toThrow(
        `could not delete 1 object version(s) from ${BUCKET}, e.g. k: AccessDenied`,
      );
      expect(s3Mock).toHaveReceivedCommandTimes(DeleteBucketCommand, 0);
    });
  });

  describe('stopAccessLogging', () => {
    it('turns server access logging off, and never throws', async () => {
      s3Mock.on(PutBucketLoggingCommand).rejects(s3Error('NoSuchBucket', 404));
      await expect(stopAccessLogging(s3, BUCKET)).resolves.toBeUndefined();
      expect(s3Mock).toHaveReceivedCommandWith(PutBucketLoggingCommand, {
        Bucket: BUCKET,
        BucketLoggingStatus: {},
      });
    });
  });

  describe('findStackBuckets', () => {
    it("finds the stack's buckets by name prefix, and keeps only those CloudFormation tagged for it", async () => {
      s3Mock
        .on(ListBucketsCommand)
        .resolvesOnce({
          Buckets: [
            { Name: 'pop3e2e-abcdefghij-pollerarchivebucket-1' },
            { Name: 'pop3e2e-abcdefghij-mine' },
          ],
          ContinuationToken: 'next',
        })
        .resolvesOnce({
          Buckets: [{ Name: 'pop3e2e-abcdefghij-polleraccesslogbucket-2' }, { Name: 'other' }],
        });
      const tagged = (stack: string) => ({
        TagSet: [
          { Key: 'aws:cloudformation:logical-id', Value: 'X' },
          { Key: 'aws:cloudformation:stack-name', Value: stack },
        ],
      });
      s3Mock
        .on(GetBucketTaggingCommand, { Bucket: 'pop3e2e-abcdefghij-pollerarchivebucket-1' })
        .resolves(tagged(STACK))
        .on(GetBucketTaggingCommand, { Bucket: 'pop3e2e-abcdefghij-mine' })
        .rejects(s3Error('NoSuchTagSet', 404))
        .on(GetBucketTaggingCommand, { Bucket: 'pop3e2e-abcdefghij-polleraccesslogbucket-2' })
        .resolves(tagged(STACK));

      await expect(findStackBuckets(s3, STACK)).resolves.toEqual([
        'pop3e2e-abcdefghij-pollerarchivebucket-1',
        'pop3e2e-abcdefghij-polleraccesslogbucket-2',
      ]);
      expect(s3Mock).toHaveReceivedNthSpecificCommandWith(1, ListBucketsCommand, {
        Prefix: 'pop3e2e-abcdefghij-',
        MaxBuckets: 1000,
      });
      expect(s3Mock).toHaveReceivedNthSpecificCommandWith(2, ListBucketsCommand, {
        ContinuationToken: 'next',
      });
      expect(s3Mock).toHaveReceivedCommandTimes(GetBucketTaggingCommand, 3);
    });

    it('leaves alone a bucket with the prefix but another stack’s tag', async () => {
      s3Mock.on(ListBucketsCommand).resolves({ Buckets: [{ Name: 'pop3e2e-abcdefghij-x' }] });
      s3Mock.on(GetBucketTaggingCommand).resolves({
        TagSet: [{ Key: 'aws:cloudformation:stack-name', Value: 'Pop3E2E-abcdefghijk' }],
      });
      await expect(findStackBuckets(s3, STACK)).resolves.toEqual([]);
    });
  });

  describe('deleteSecretNow', () => {
    it('deletes without a recovery window', async () => {
      smMock.on(DeleteSecretCommand).resolves({});
      await expect(deleteSecretNow(sm, 'pop3-poller/x/e2e')).resolves.toBe('deleted');
      expect(smMock).toHaveReceivedCommandWith(DeleteSecretCommand, {
        SecretId: 'pop3-poller/x/e2e',
        ForceDeleteWithoutRecovery: true,
      });
    });

    it('counts a secret that does not exist as never created, and passes other errors on', async () => {
      smMock
        .on(DeleteSecretCommand)
        .rejectsOnce(new ResourceNotFoundException({ $metadata: {}, message: 'not found' }))
        .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
      await expect(deleteSecretNow(sm, 'a')).resolves.toBe('absent');
      await expect(deleteSecretNow(sm, 'a')).rejects.toThrow('denied');
    });
  });
});
