import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Message } from '@aws-sdk/client-sqs';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { ArchivedEvent } from '../../scripts/e2e/verify';

/**
 * What the deployed poller leaves behind for scripts/aws-e2e.ts to check, made offline: archived
 * messages as S3 objects (S3 mocked at the SDK boundary) and their "Message Archived" events as
 * the example rule's SQS queue delivers them.
 */

export const ARCHIVE_PREFIX = 'mail/';
export const E2E_ACCOUNT = 'e2e';

export interface Mail {
  readonly bytes: Buffer;
  readonly sha256: string;
  readonly uidl: string;
  readonly key: string;
  readonly event: ArchivedEvent;
}

/** Message `n` (or the given bytes) as the worker archives it into `bucket`. */
export function mail(n: number, bucket: string, options: { uidl?: string; bytes?: Buffer } = {}): Mail {
  const bytes =
    options.bytes ?? Buffer.from(`Subject: test ${n}\r\nMessage-ID: <${n}@e2e>\r\n\r\nbody ${n}\r\n`);
  const uidl = options.uidl ?? `uid-${n}`;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const key = `${E2E_ACCOUNT}/${sha256}.eml`;
  return {
    bytes,
    sha256,
    uidl,
    key,
    event: {
      eventId: `event-${uidl}`,
      accountId: E2E_ACCOUNT,
      uidl,
      sha256,
      size: bytes.length,
      key,
      location: `s3://${bucket}/${ARCHIVE_PREFIX}${key}`,
    },
  };
}

/** The body of an SQS message from the example rule: the event as EventBridge delivers it. */
export function eventBody(event: ArchivedEvent, envelope: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: '0',
    id: 'eventbridge-assigned',
    'detail-type': 'Message Archived',
    source: 'pop3-poller',
    account: '111122223333',
    time: '2025-03-04T10:05:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: {
      ...event,
      metadata: 'complete',
      subject: 'test',
      from: null,
      to: [],
      cc: [],
      date: null,
      messageId: null,
      attachments: [],
      archivedAt: '2025-03-04T10:05:00.000Z',
    },
    ...envelope,
  });
}

let handles = 0;
export const sqsMessage = (body: string): Message => ({
  Body: body,
  ReceiptHandle: `rh-${++handles}`,
  MessageId: `m-${handles}`,
});

/** S3 as the worker leaves it: each message under its key, checksummed, with its metadata. */
export function storeInS3(
  s3Mock: AwsClientStub<S3Client>,
  mails: readonly Mail[],
  change: (m: Mail, head: HeadObjectCommandOutput) => void = () => {},
): void {
  s3Mock.on(ListObjectsV2Command).resolves({
    Contents: mails.map((m) => ({ Key: `${ARCHIVE_PREFIX}${m.key}`, Size: m.bytes.length })),
    IsTruncated: false,
  });
  s3Mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    const m = mails.find((x) => `${ARCHIVE_PREFIX}${x.key}` === input.Key);
    if (!m) throw Object.assign(new Error('NotFound'), { name: 'NotFound' });
    const head: HeadObjectCommandOutput = {
      $metadata: {},
      ContentLength: m.bytes.length,
      ContentType: 'message/rfc822',
      ChecksumSHA256: Buffer.from(m.sha256, 'hex').toString('base64'),
      ChecksumType: 'FULL_OBJECT',
      ServerSideEncryption: 'aws:kms',
      Metadata: { 'account-id': E2E_ACCOUNT, sha256: m.sha256, uidl: m.uidl },
    };
    change(m, head);
    return head;
  });
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const m = mails.find((x) => `${ARCHIVE_PREFIX}${x.key}` === input.Key)!;
    return {
      $metadata: {},
      Body: { transformToByteArray: async () => new Uint8Array(m.bytes) },
    } as unknown as GetObjectCommandOutput;
  });
}
