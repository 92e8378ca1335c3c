import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  ARCHIVE_PREFIX,
  E2E_ACCOUNT,
  eventBody,
  mail as fixtureMail,
  sqsMessage,
  storeInS3 as storeMails,
  type Mail,
} from '../support/e2e-fixtures';
import {
  drainSampleQueue,
  expectedEventUidls,
  listArchiveObjects,
  mailboxCheck,
  parseArchivedEvent,
  verifyArchive,
  waitForArchive,
  type Check,
  type Clock,
} from '../../scripts/e2e/verify';

/** The checks of scripts/aws-e2e.ts against S3 and SQS mocked at the SDK boundary. */

const s3Mock = mockClient(S3Client);
const sqsMock = mockClient(SQSClient);
const s3 = new S3Client({ region: 'eu-west-1' });
const sqs = new SQSClient({ region: 'eu-west-1' });

const BUCKET = 'pop3e2e-x-pollerarchivebucket-y';
const PREFIX = ARCHIVE_PREFIX;
const ACCOUNT = E2E_ACCOUNT;
const SAMPLE = 'https://sqs.eu-west-1.amazonaws.com/111122223333/sample';
const DLQ = 'https://sqs.eu-west-1.amazonaws.com/111122223333/dlq.fifo';

const mail = (n: number, uidl?: string) => fixtureMail(n, BUCKET, uidl !== undefined ? { uidl } : {});
const body = eventBody;
const message = sqsMessage;
const storeInS3 = (mails: readonly Mail[], change?: Parameters<typeof storeMails>[2]) =>
  storeMails(s3Mock, mails, change);

/** A clock that only moves when slept on. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

const byName = (checks: readonly Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

beforeEach(() => {
  s3Mock.reset();
  sqsMock.reset();
  sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
});

describe('scripts/aws-e2e.ts verification', () => {
  describe('parseArchivedEvent', () => {
    const m = mail(1);

    it('reads the detail fields the checks use', () => {
      expect(parseArchivedEvent(body(m.event))).toEqual({ event: m.event });
      expect(parseArchivedEvent(body({ ...m.event, uidl: null }))).toEqual({
        event: { ...m.event, uidl: null },
      });
    });

    it.each([
      ['no body', undefined, 'the message body is not JSON'],
      ['broken JSON', '{', 'the message body is not JSON'],
      ['a number', '3', 'the message body is not an object'],
      [
        'another detail-type',
        body(m.event, { 'detail-type': 'Poll Completed' }),
        'detail-type is "Poll Completed", not "Message Archived"',
      ],
      ['another source', body(m.event, { source: 'other' }), 'source is "other", not "pop3-poller"'],
      ['no detail', body(m.event, { detail: null }), 'the event has no detail'],
      [
        'malformed fields',
        body({ ...m.event, sha256: 'ABC', size: -1, key: '', uidl: 3 as unknown as string }),
        'detail field(s) missing or malformed: key, sha256, size, uidl',
      ],
    ])('sets aside %s', (_label, text, problem) => {
      expect(parseArchivedEvent(text)).toEqual({ problem });
    });
  });

  describe('drainSampleQueue', () => {
    it('receives until the queue is empty, deleting what it read, setting aside other messages', async () => {
      const [a, b] = [mail(1), mail(2)];
      sqsMock
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: [message(body(a.event)), message(body(b.event))] })
        .resolvesOnce({ Messages: [message(body(a.event, { 'detail-type': 'Poll Completed' }))] })
        .resolves({ Messages: [] });

      const result = await drainSampleQueue(sqs, SAMPLE, 10);

      expect(result.events).toEqual([a.event, b.event]);
      expect(result.ignored).toEqual(['detail-type is "Poll Completed", not "Message Archived"']);
      const receives = sqsMock
        .commandCalls(ReceiveMessageCommand)
        .map((c) => c.args[0].input.WaitTimeSeconds);
      expect(receives).toEqual([10, 1, 1]);
      expect(sqsMock).toHaveReceivedCommandTimes(DeleteMessageBatchCommand, 2);
      expect(sqsMock).toHaveReceivedNthSpecificCommandWith(1, DeleteMessageBatchCommand, {
        QueueUrl: SAMPLE,
        Entries: [
          { Id: '0', ReceiptHandle: expect.stringMatching(/^rh-/) },
          { Id: '1', ReceiptHandle: expect.stringMatching(/^rh-/) },
        ],
      });
    });
  });

  describe('listArchiveObjects', () => {
    it('reads every page and keeps only .eml objects', async () => {
      s3Mock
        .on(ListObjectsV2Command)
        .resolvesOnce({
          Contents: [
            { Key: 'mail/e2e/a.eml', Size: 10 },
            { Key: 'mail/e2e/notes.txt', Size: 1 },
          ],
          IsTruncated: true,
          NextContinuationToken: 't1',
        })
        .resolvesOnce({ Contents: [{ Key: 'mail/e2e/b.eml', Size: 20 }], IsTruncated: false });

      await expect(listArchiveObjects(s3, BUCKET, 'mail/e2e/')).resolves.toEqual([
        { key: 'mail/e2e/a.eml', size: 10 },
        { key: 'mail/e2e/b.eml', size: 20 },
      ]);
      expect(s3Mock).toHaveReceivedNthSpecificCommandWith(2, ListObjectsV2Command, {
        Bucket: BUCKET,
        Prefix: 'mail/e2e/',
        ContinuationToken: 't1',
      });
    });
  });

  describe('waitForArchive', () => {
    const base = {
      s3,
      sqs,
      bucket: BUCKET,
      objectPrefix: `${PREFIX}${ACCOUNT}/`,
      sampleQueueUrl: SAMPLE,
      deadLetterQueueUrl: DLQ,
      timeoutMs: 60_000,
      receiveWaitSeconds: 0,
      pollIntervalMs: 5000,
    };

    it('completes once every event and its object are there, counting a redelivered event once', async () => {
      const [a, b] = [mail(1), mail(2)];
      const clock = fakeClock();
      sqsMock
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: [] })
        .resolvesOnce({ Messages: [message(body(a.event)), message(body(a.event))] })
        .resolvesOnce({ Messages: [] })
        .resolvesOnce({ Messages: [message(body(b.event))] })
        .resolves({ Messages: [] });
      s3Mock
        .on(ListObjectsV2Command)
        .resolvesOnce({ Contents: [] })
        .resolvesOnce({ Contents: [{ Key: `${PREFIX}${a.key}`, Size: 1 }] })
        .resolves({ Contents: [a, b].map((m) => ({ Key: `${PREFIX}${m.key}`, Size: 1 })) });
      const lines: string[] = [];

      const result = await waitForArchive({ ...base, expectedMessages: 2, clock, log: (l) => lines.push(l) });

      expect(result.outcome).toBe('complete');
      expect(result.events).toEqual([a.event, b.event]);
      expect(result.objects.map((o) => o.key)).toEqual([a, b].map((m) => `${PREFIX}${m.key}`));
      expect(clock.slept).toEqual([5000, 5000]);
      expect(result.elapsedMs).toBe(10_000);
      expect(lines).toEqual([
        '  0/2 events, 0 objects (0 s)',
        '  1/2 events, 1 objects (5 s)',
        '  2/2 events, 2 objects (10 s)',
      ]);
    });

    it('needs one object for identical messages (content-addressed keys), one event each', async () => {
      const a = mail(1);
      const twin = { ...a.event, eventId: 'event-twin', uidl: 'uid-twin' };
      sqsMock
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: [message(body(a.event)), message(body(twin))] })
        .resolves({ Messages: [] });
      s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `${PREFIX}${a.key}`, Size: 1 }] });

      const result = await waitForArchive({ ...base, expectedMessages: 2, clock: fakeClock() });

      expect(result.outcome).toBe('complete');
      expect(result.events).toHaveLength(2);
    });

    it('gives up at the timeout with what it has', async () => {
      const clock = fakeClock();
      sqsMock.on(ReceiveMessageCommand).resolves({ Messages: [] });
      s3Mock.on(ListObjectsV2Command).resolves({ Contents: [] });

      const result = await waitForArchive({ ...base, expectedMessages: 1, clock, timeoutMs: 12_000 });

      expect(result).toMatchObject({ outcome: 'timeout', events: [], objects: [], elapsedMs: 15_000 });
      expect(clock.slept).toEqual([5000, 5000, 5000]);
    });

    it('stops as soon as the job is in the dead-letter queue', async () => {
      sqsMock.on(ReceiveMessageCommand).resolves({ Messages: [] });
      sqsMock.on(GetQueueAttributesCommand).resolves({
        Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1' },
      });
      s3Mock.on(ListObjectsV2Command).resolves({ Contents: [] });

      const result = await waitForArchive({ ...base, expectedMessages: 1, clock: fakeClock() });

      expect(result.outcome).toBe('dead-letter');
      expect(sqsMock).toHaveReceivedCommandWith(GetQueueAttributesCommand, { QueueUrl: DLQ });
    });

    it('stops when interrupted', async () => {
      const abort = new AbortController();
      abort.abort();
      const result = await waitForArchive({ ...base, expectedMessages: 1, signal: abort.signal });
      expect(result.outcome).toBe('aborted');
      expect(sqsMock).toHaveReceivedCommandTimes(ReceiveMessageCommand, 0);
    });
  });

  describe('verifyArchive', () => {
    const mails = [mail(1), mail(2)];
    const objects = mails.map((m) => ({ key: `${PREFIX}${m.key}`, size: m.bytes.length }));
    const input = {
      s3,
      bucket: BUCKET,
      prefix: PREFIX,
      accountId: ACCOUNT,
      events: mails.map((m) => m.event),
      objects,
      expectedMessages: 2,
      uidlsBefore: [
        { messageNumber: 1, uid: 'uid-1' },
        { messageNumber: 2, uid: 'uid-2' },
      ],
    };

    it('passes when every object is the message its event describes', async () => {
      storeInS3(mails);

      const checks = await verifyArchive(input);

      expect(checks).toEqual([
        { name: 'events', ok: true, detail: '2 distinct "Message Archived" events on the sample queue' },
        {
          name: 'event shape',
          ok: true,
          detail: 'every message on the sample queue is a well-formed "Message Archived" event',
        },
        {
          name: 'event fields',
          ok: true,
          detail: 'accountId, key and location of every event match the archive layout',
        },
        { name: 'UIDLs', ok: true, detail: 'the events name the 2 UIDLs the server listed before the run' },
        { name: 'objects', ok: true, detail: '2 .eml objects under mail/e2e/, one per distinct message' },
        {
          name: 'object integrity',
          ok: true,
          detail:
            '2 objects: S3 ChecksumSHA256, metadata sha256, size and the bytes read back match their events',
        },
      ]);
      expect(s3Mock).toHaveReceivedCommandWith(HeadObjectCommand, {
        Bucket: BUCKET,
        Key: `${PREFIX}${mails[0]!.key}`,
        ChecksumMode: 'ENABLED',
      });
      expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 2);
    });

    it("fails an object whose checksum, metadata, size, type, encryption or bytes differ from its event's", async () => {
      const other = mail(100);
      storeInS3(mails, (m, head) => {
        if (m !== mails[1]) return;
        head.ChecksumSHA256 = Buffer.from(other.sha256, 'hex').toString('base64');
        head.Metadata = { 'account-id': 'someone', sha256: other.sha256 };
        head.ContentLength = 1;
        head.ContentType = 'text/plain';
        head.ServerSideEncryption = 'AES256';
      });
      s3Mock.on(GetObjectCommand, { Key: `${PREFIX}${mails[1]!.key}` }).resolves({
        Body: { transformToByteArray: async () => new Uint8Array(other.bytes) },
      } as unknown as GetObjectCommandOutput);

      const integrity = byName(await verifyArchive(input))['object integrity']!;

      expect(integrity.ok).toBe(false);
      const key = `${PREFIX}${mails[1]!.key}`;
      expect(integrity.detail).toContain(
        `${key}: ChecksumSHA256 is ${other.sha256}, the event says ${mails[1]!.sha256}`,
      );
      expect(integrity.detail).toContain(`${key}: metadata sha256 is "${other.sha256}"`);
      expect(integrity.detail).toContain(`${key}: metadata account-id is "someone"`);
      expect(integrity.detail).toContain(`${key}: size is 1, the event says ${mails[1]!.bytes.length}`);
      expect(integrity.detail).toContain(`${key}: Content-Type is "text/plain"`);
      expect(integrity.detail).toContain(`${key}: encryption is "AES256", not aws:kms`);
      expect(integrity.detail).toContain(
        `${key}: its bytes hash to ${other.sha256}, the event says ${mails[1]!.sha256}`,
      );
      expect(integrity.detail).toContain(`${key}: ${other.bytes.length} bytes read back`);
      // The other object is fine.
      expect(integrity.detail).not.toContain(mails[0]!.key);
    });

    it('accepts a multipart object by its metadata and bytes (its checksum is of the parts)', async () => {
      storeInS3(mails, (_m, head) => {
        head.ChecksumSHA256 = 'Zm9vYmFy-3';
        head.ChecksumType = 'COMPOSITE';
      });
      expect(byName(await verifyArchive(input))['object integrity']!.ok).toBe(true);
    });

    it('reads no bodies when told not to', async () => {
      storeInS3(mails);
      const checks = await verifyArchive({ ...input, readBodies: false });
      expect(byName(checks)['object integrity']).toEqual({
        name: 'object integrity',
        ok: true,
        detail: '2 objects: S3 ChecksumSHA256, metadata sha256, size match their events',
      });
      expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 0);
    });

    it('fails missing and unexpected objects, a wrong count of events, and foreign UIDLs', async () => {
      const stray = mail(3);
      storeInS3([mails[0]!, stray]);

      const checks = byName(
        await verifyArchive({
          ...input,
          objects: [objects[0]!, { key: `${PREFIX}${stray.key}`, size: 1 }],
          expectedMessages: 3,
          uidlsBefore: [
            { messageNumber: 1, uid: 'uid-1' },
            { messageNumber: 2, uid: 'uid-7' },
          ],
        }),
      );

      expect(checks.events).toEqual({
        name: 'events',
        ok: false,
        detail: '2 distinct "Message Archived" events, expected 3',
      });
      expect(checks.objects!.ok).toBe(false);
      expect(checks.objects!.detail).toBe(
        `missing object ${PREFIX}${mails[1]!.key}; object ${PREFIX}${stray.key} has no event`,
      );
      expect(checks.UIDLs).toEqual({
        name: 'UIDLs',
        ok: false,
        detail: 'no event for UIDL "uid-7"; event for UIDL "uid-2", not listed before the run',
      });
      // Only objects that exist are checked for integrity.
      expect(checks['object integrity']!.ok).toBe(true);
    });

    it('fails events that do not match the archive layout, and messages set aside', async () => {
      storeInS3(mails);
      const wrong = { ...mails[0]!.event, accountId: 'other', location: 's3://elsewhere/x.eml' };

      const checks = byName(
        await verifyArchive({
          ...input,
          events: [wrong, mails[1]!.event],
          ignored: ['the message body is not JSON'],
        }),
      );

      expect(checks['event fields']!.ok).toBe(false);
      expect(checks['event fields']!.detail).toBe(
        `event ${wrong.eventId}: accountId "other"; event ${wrong.eventId}: location "s3://elsewhere/x.eml", ` +
          `expected "s3://${BUCKET}/${PREFIX}${wrong.key}"`,
      );
      expect(checks['event shape']).toEqual({
        name: 'event shape',
        ok: false,
        detail: 'a message on the sample queue was set aside: the message body is not JSON',
      });
    });

    it('leaves the UIDL check out when the server has no UIDL', async () => {
      storeInS3(mails);
      const { uidlsBefore: _u, ...withoutUidls } = input;
      expect(byName(await verifyArchive(withoutUidls)).UIDLs).toBeUndefined();
    });
  });

  describe('expectedEventUidls', () => {
    it('mirrors the worker: normalised, and null for a UIDL the server gave twice', () => {
      expect(
        expectedEventUidls([
          { messageNumber: 1, uid: 'a' },
          { messageNumber: 2, uid: 'dup' },
          { messageNumber: 3, uid: 'dup' },
          { messageNumber: 4, uid: 'b c' },
          { messageNumber: 5, uid: '' },
        ]),
      ).toEqual(['a', null, null, 'b%20c', null]);
    });
  });

  describe('mailboxCheck', () => {
    it('passes an empty mailbox only', () => {
      expect(mailboxCheck(0).ok).toBe(true);
      expect(mailboxCheck(2)).toEqual({
        name: 'mailbox emptied',
        ok: false,
        detail: 'STAT reports 2 message(s) still on the server',
      });
    });
  });
});
