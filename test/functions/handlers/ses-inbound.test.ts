import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { EventBridgeSink } from '../../../functions/adapters/eventbridge-sink';
import { S3ArchiveStore } from '../../../functions/adapters/s3-archive-store';
import { startFakeMailbox } from '../../../functions/fake-pop3/mailbox';
import { stableEventId } from '../../../functions/poller/events';
import { pollAccount } from '../../../functions/poller/poll-account';
import { CapturedOutput, lambdaContext, sqsRecord } from '../../support/lambda-harness';
import { StaticCredentials } from '../../support/memory-ports';
import { loopbackAccount, ManualClock } from '../../support/poll-fixtures';
import { objectCreatedEvent, SES_MESSAGE_IDS, sesObject, type SesFixture } from '../../support/ses/fixtures';
import schema from '../../../infra/event-schema.json';
import { delivered } from '../../support/eventbridge-delivery';
import { validate } from '../../support/json-schema';

/**
 * The SES inbound Lambda handler in-process, its S3 and EventBridge clients mocked with
 * aws-sdk-client-mock: the exact commands for each kind of object SES writes, what a redelivery
 * does, what an invalid object leaves behind (a report, nothing written, nothing deleted), and a
 * message polled from a POP3 mailbox without UIDL into the same archive giving the same event but
 * for its `source`.
 */

type Handler = (event: { Records: SQSRecord[] }, context: Context) => Promise<SQSBatchResponse>;

const SES_BUCKET = 'inbound-mail-bucket';
const SES_PREFIX = 'ses/';
const ARCHIVE_BUCKET = 'archive-bucket';
const ARCHIVE_PREFIX = 'mail/';
const BUS = 'pop3-bus';
const KMS_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-1111-2222-333344445555';
const NOW = new Date('2026-12-07T12:58:43.123Z');

const s3 = mockClient(S3Client);
const eventBridge = mockClient(EventBridgeClient);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sha256B64 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');

function keyOf(name: Exclude<SesFixture, 'setupNotification'>): string {
  return `${SES_PREFIX}${SES_MESSAGE_IDS[name]}`;
}

/** The SQS record a rule's target delivers for an object SES wrote. */
function notification(
  name: Exclude<SesFixture, 'setupNotification'>,
  size = sesObject(name).length,
): SQSRecord {
  return sqsRecord(objectCreatedEvent(SES_BUCKET, keyOf(name), size), { messageId: `msg-${name}` });
}

/** GetObject answers with the fixture's bytes, as the SDK hands a body over (a stream). */
function serve(name: Exclude<SesFixture, 'setupNotification'>): Buffer {
  const bytes = sesObject(name);
  // The SDK's body is a Node stream (with helpers the handler does not use): a stream it is.
  s3.on(GetObjectCommand, { Bucket: SES_BUCKET, Key: keyOf(name) }).callsFake(() => ({
    Body: Readable.from([bytes]) as never,
    ContentLength: bytes.length,
  }));
  return bytes;
}

function putEntries(): PutEventsRequestEntry[] {
  return eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
}

function putObjects(): PutObjectCommandInput[] {
  return s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
}

function serviceError(name: string, httpStatusCode: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `${name} from the test`,
  });
}

describe('SES inbound handler (in-process, S3 and EventBridge mocked)', () => {
  let handler: Handler;
  let output: CapturedOutput | undefined;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
      ARCHIVE_BUCKET,
      ARCHIVE_PREFIX,
      ARCHIVE_KMS_KEY_ID: KMS_KEY,
      EVENT_BUS_NAME: BUS,
      SES_BUCKET,
      SES_PREFIX,
      SES_EVENT_SOURCE: 'ses',
      SES_RECIPIENTS: JSON.stringify({ 'support@example.com': 'support', 'billing@example.com': 'billing' }),
      SES_UNMAPPED: 'address',
      SES_DOMAINS: 'example.com',
      POWERTOOLS_SERVICE_NAME: 'pop3-poller-ses-inbound',
      POWERTOOLS_METRICS_NAMESPACE: 'Pop3PollerTest',
    });
    ({ handler } = await import('../../../functions/handlers/ses-inbound.js'));
  });

  afterAll(() => {
    process.env = savedEnv;
  });

  beforeEach(() => {
    s3.reset();
    eventBridge.reset();
    s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
      FailedEntryCount: 0,
      Entries: input.Entries.map((_, i) => ({ EventId: `eb-${i}` })),
    }));
    // Only Date is faked: the archive time is the clock's.
    jest.useFakeTimers({
      now: NOW,
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
  });

  afterEach(() => {
    jest.useRealTimers();
    output?.restore();
    // Whatever the test did, the credentials in the environment never reach the logs or metrics.
    expect(output?.text ?? '').not.toContain(process.env.AWS_SECRET_ACCESS_KEY);
    output = undefined;
  });

  async function invoke(records: SQSRecord[]) {
    output = new CapturedOutput();
    try {
      const result = await handler({ Records: records }, lambdaContext());
      return { result, out: output };
    } finally {
      output.restore();
    }
  }

  function metricsOf(out: CapturedOutput): Record<string, unknown> {
    const [emf, ...more] = out.metrics();
    expect(more).toEqual([]);
    return emf!;
  }

  test('an SES object for one recipient: GetObject, one conditional PutObject with the SHA-256 checksum and the archive record, one event with source "ses"', async () => {
    const bytes = serve('singleRecipient');
    const sha = sha256(bytes);

    const { result, out } = await invoke([notification('singleRecipient')]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 1);
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: SES_BUCKET,
      Key: keyOf('singleRecipient'),
    });
    expect(putObjects()).toEqual([
      {
        Bucket: ARCHIVE_BUCKET,
        Key: `mail/support/${sha}.eml`,
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: 'message/rfc822',
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: sha256B64(bytes),
        IfNoneMatch: '*',
        Metadata: {
          'account-id': 'support',
          sha256: sha,
          'archived-at': NOW.toISOString(),
          'event-source': 'ses',
        },
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: KMS_KEY,
        BucketKeyEnabled: true,
      },
    ]);
    // The bytes exactly as SES wrote them, its own header fields included.
    expect(Buffer.isBuffer(putObjects()[0]!.Body)).toBe(true);
    expect((putObjects()[0]!.Body as Buffer).equals(bytes)).toBe(true);
    // Nothing else: the SES object is neither copied, tagged nor deleted.
    expect(s3.calls()).toHaveLength(2);

    const entries = putEntries();
    expect(entries).toHaveLength(1);
    const [entry] = entries;
    // The exact entry: nothing but these five fields.
    expect(entry).toEqual({
      EventBusName: BUS,
      Source: 'ses',
      DetailType: 'Message Archived',
      Detail: expect.any(String),
      Time: NOW,
    });
    expect(JSON.parse(entry!.Detail!)).toEqual({
      // The id a poll gives a message without UIDL (pinned in test/functions/poller/stable-ids.test.ts).
      eventId: stableEventId('support', '', sha),
      accountId: 'support',
      uidl: null,
      sha256: sha,
      size: bytes.length,
      location: `s3://${ARCHIVE_BUCKET}/mail/support/${sha}.eml`,
      key: `support/${sha}.eml`,
      metadata: 'complete',
      subject: 'Facture décembre',
      from: { name: 'Alice Martin', address: 'alice@example.net' },
      to: [{ name: '', address: 'support@example.com' }],
      cc: [],
      date: '2026-12-07T12:58:29.000Z',
      messageId: '<CAJ3x9qvW7Yb@mail.example.net>',
      // 83: the decoded size of the base64 part (`base64 -d | wc -c`).
      attachments: [{ filename: 'facture-2026-12.pdf', mimeType: 'application/pdf', size: 83 }],
      archivedAt: NOW.toISOString(),
    });

    const [line] = out.logs().filter((l) => l.message === 'SES message archived');
    expect(line).toMatchObject({
      level: 'INFO',
      bucket: SES_BUCKET,
      key: keyOf('singleRecipient'),
      sha256: sha,
      accounts: ['support'],
      alreadyArchived: 0,
    });
    expect(metricsOf(out)).toMatchObject({
      SesMessagesArchived: 1,
      SesObjectsRejected: 0,
      SesObjectsRetried: 0,
    });
  });

  test('redelivery: the conditional PutObject is refused (412), nothing is written, and the event is the same, its time the first archive time', async () => {
    const bytes = serve('singleRecipient');
    const first = await invoke([notification('singleRecipient')]);
    expect(first.result).toEqual({ batchItemFailures: [] });
    const [original] = putEntries();

    // Later, the same notification again (SQS at-least-once, or EventBridge retrying).
    jest.setSystemTime(new Date('2026-12-07T13:40:00.000Z'));
    s3.reset();
    eventBridge.resetHistory();
    serve('singleRecipient');
    s3.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
    s3.on(HeadObjectCommand).resolves({
      ContentLength: bytes.length,
      ChecksumSHA256: sha256B64(bytes),
      Metadata: {
        'account-id': 'support',
        sha256: sha256(bytes),
        'archived-at': NOW.toISOString(),
        'event-source': 'ses',
      },
    });

    const again = await invoke([notification('singleRecipient')]);

    expect(again.result).toEqual({ batchItemFailures: [] });
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { IfNoneMatch: '*' });
    expect(s3).toHaveReceivedCommandTimes(HeadObjectCommand, 1);
    const [replayed] = putEntries();
    expect(replayed).toEqual(original);
    expect(JSON.parse(replayed!.Detail!).archivedAt).toBe(NOW.toISOString());
    expect(again.out.logs().find((l) => l.message === 'SES message archived')).toMatchObject({
      alreadyArchived: 1,
    });
  });

  test('one delivery to two recipients: one archived message and one event per account, the foreign Cc left out', async () => {
    const bytes = serve('multiRecipient');
    const sha = sha256(bytes);

    const { result } = await invoke([notification('multiRecipient')]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(putObjects().map((p) => [p.Key, p.Metadata?.['account-id']])).toEqual([
      [`mail/support/${sha}.eml`, 'support'],
      // Not in the recipient map, at one of your domains: named after the address.
      [`mail/sales_at_example.com/${sha}.eml`, 'sales_at_example.com'],
    ]);
    for (const put of putObjects()) expect((put.Body as Buffer).equals(bytes)).toBe(true);
    const entries = putEntries();
    expect(entries.map((e) => JSON.parse(e.Detail!).accountId)).toEqual(['support', 'sales_at_example.com']);
    const ids = entries.map((e) => JSON.parse(e.Detail!).eventId);
    expect(new Set(ids).size).toBe(2);
    // One PutEvents request for the object's events.
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
  });

  test('8-bit bytes with a NUL reach the archive unchanged; a +detail recipient maps to its account', async () => {
    const bytes = serve('eightBit');
    expect(bytes.includes(0x00)).toBe(true);

    const { result } = await invoke([notification('eightBit')]);

    expect(result).toEqual({ batchItemFailures: [] });
    const [put] = putObjects();
    expect(put!.Key).toBe(`mail/billing/${sha256(bytes)}.eml`);
    expect((put!.Body as Buffer).equals(bytes)).toBe(true);
    expect(put!.ChecksumSHA256).toBe(sha256B64(bytes));
    const detail = JSON.parse(putEntries()[0]!.Detail!);
    expect(detail).toMatchObject({ accountId: 'billing', subject: 'Reçu n° 2026-118', size: bytes.length });
  });

  test('an object that is not a message: reported (bucket, key, why; a metric), nothing written or published, nothing deleted, no retry', async () => {
    serve('invalid');

    const { result, out } = await invoke([notification('invalid')]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(s3.calls().map((c) => c.args[0].constructor.name)).toEqual(['GetObjectCommand']);
    expect(eventBridge.calls()).toHaveLength(0);
    const [report] = out.logs().filter((l) => l.level === 'ERROR');
    expect(report).toMatchObject({
      message: 'SES object not archived: kept where SES wrote it',
      bucket: SES_BUCKET,
      key: keyOf('invalid'),
      code: 'EINVALID',
      reason: `s3://${SES_BUCKET}/${keyOf('invalid')} is not a valid message: line 1 of the header section is not a header field`,
      needsAttention: true,
    });
    expect(metricsOf(out)).toMatchObject({
      SesMessagesArchived: 0,
      SesObjectsRejected: 1,
      SesObjectsRetried: 0,
    });
  });

  test('an object over the size limit by its notification is refused without being read', async () => {
    const { result, out } = await invoke([notification('singleRecipient', 41 * 1024 * 1024)]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(s3.calls()).toHaveLength(0);
    expect(out.logs().find((l) => l.level === 'ERROR')).toMatchObject({
      code: 'EINVALID',
      reason: expect.stringContaining('the object is 42991616 bytes, over the 41943040-byte limit'),
    });
  });

  test("SES's setup notification object and objects outside the prefix are let go without a read", async () => {
    const setup = sqsRecord(objectCreatedEvent(SES_BUCKET, `${SES_PREFIX}AMAZON_SES_SETUP_NOTIFICATION`, 70));
    const outside = sqsRecord(objectCreatedEvent(SES_BUCKET, 'other/thing.txt', 10));

    const { result, out } = await invoke([setup, outside]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(s3.calls()).toHaveLength(0);
    expect(out.logs().map((l) => l.message)).toEqual([
      'SES setup notification object ignored',
      'Notification for an object outside the SES prefix ignored',
    ]);
  });

  test('a transient failure returns only that notification for retry; the rest of the batch goes through', async () => {
    serve('singleRecipient');
    s3.on(GetObjectCommand, { Bucket: SES_BUCKET, Key: keyOf('multiRecipient') }).rejects(
      serviceError('SlowDown', 503),
    );

    const { result, out } = await invoke([notification('multiRecipient'), notification('singleRecipient')]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-multiRecipient' }] });
    expect(putObjects().map((p) => p.Metadata?.['account-id'])).toEqual(['support']);
    expect(out.logs().find((l) => l.level === 'WARN')).toMatchObject({
      message: 'SES object not archived yet; its notification is retried',
      key: keyOf('multiRecipient'),
      failure: { code: 'EREAD', retryable: true },
    });
    expect(metricsOf(out)).toMatchObject({ SesMessagesArchived: 1, SesObjectsRetried: 1 });
  });

  test('an event EventBridge did not take: the notification is retried, and the archived object is not written twice', async () => {
    const bytes = serve('singleRecipient');
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'not allowed' }],
    });

    const { result } = await invoke([notification('singleRecipient')]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-singleRecipient' }] });
    expect(putObjects()).toHaveLength(1);
    expect((putObjects()[0]!.Body as Buffer).equals(bytes)).toBe(true);
  });

  test('a different object already at the archive key: never overwritten, logged for a person, and on its way to the DLQ', async () => {
    serve('singleRecipient');
    s3.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
    s3.on(HeadObjectCommand).resolves({ ContentLength: 5, ChecksumSHA256: sha256B64(Buffer.from('other')) });

    const { result, out } = await invoke([notification('singleRecipient')]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-singleRecipient' }] });
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(eventBridge.calls()).toHaveLength(0);
    expect(out.logs().find((l) => l.level === 'ERROR')).toMatchObject({
      message: 'SES object not archived yet; its notification is retried',
      failure: { code: 'EINTEGRITY', retryable: false },
      needsAttention: true,
    });
  });

  test('a vanished object and a malformed notification are reported and let go', async () => {
    s3.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));

    const { result, out } = await invoke([
      notification('singleRecipient'),
      sqsRecord('{"not":"an s3 event"}'),
    ]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(
      out
        .logs()
        .filter((l) => l.level === 'ERROR')
        .map((l) => [l.message, l.code ?? l.problem]),
    ).toEqual([
      ['SES object not archived: kept where SES wrote it', 'EGONE'],
      ['Malformed notification dropped', expect.stringContaining('event.source')],
    ]);
  });

  describe('indistinguishable from POP3', () => {
    test('the same bytes polled from a mailbox without UIDL into the same archive give the same event but for its source', async () => {
      const bytes = serve('singleRecipient');
      await invoke([notification('singleRecipient')]);
      const [sesEntry] = putEntries();
      const [sesPut] = putObjects();

      s3.reset();
      eventBridge.resetHistory();
      s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
      // A server without UIDL (optional in RFC 1939 §7): CAPA lists none and UIDL is refused.
      const { server } = await startFakeMailbox({
        password: 'pop3-pw',
        messages: [bytes],
        capabilities: ['USER'],
        override: (line) => (/^UIDL/i.test(line) ? '-ERR no UIDL here\r\n' : undefined),
      });
      try {
        const result = await pollAccount(
          loopbackAccount('support', server.port, { authMethod: 'USER' }),
          {
            credentials: new StaticCredentials({ support: { password: 'pop3-pw' } }),
            archive: new S3ArchiveStore(new S3Client({ region: 'eu-west-1' }), {
              bucket: ARCHIVE_BUCKET,
              prefix: ARCHIVE_PREFIX,
              kmsKeyId: KMS_KEY,
            }),
            events: new EventBridgeSink(new EventBridgeClient({ region: 'eu-west-1' }), {
              eventBusName: BUS,
            }),
            clock: new ManualClock(NOW),
          },
          { runId: 'indistinguishable' },
        );
        expect(result).toMatchObject({ status: 'ok', archived: 1, deleted: 1 });
      } finally {
        await server.close();
      }
      const [popEntry] = putEntries();
      const [popPut] = putObjects();

      // The envelope: only the source differs.
      expect(popEntry!.Source).toBe('pop3-poller');
      expect(sesEntry!.Source).toBe('ses');
      expect(popEntry!.EventBusName).toBe(sesEntry!.EventBusName);
      expect(popEntry!.DetailType).toBe(sesEntry!.DetailType);
      expect(popEntry!.Time).toEqual(sesEntry!.Time);
      // The detail, field by field.
      const pop = JSON.parse(popEntry!.Detail!) as Record<string, unknown>;
      const ses = JSON.parse(sesEntry!.Detail!) as Record<string, unknown>;
      expect(Object.keys(pop).sort()).toEqual(Object.keys(ses).sort());
      for (const field of Object.keys(ses)) expect([field, pop[field]]).toEqual([field, ses[field]]);
      expect(pop.uidl).toBeNull();
      // Both as the published event schema describes them.
      const root = schema as unknown as Record<string, unknown>;
      expect(validate(root, delivered(sesEntry!))).toEqual([]);
      expect(validate(root, delivered(popEntry!))).toEqual([]);
      // The archived object: the same key, bytes, checksum and record, but for the event source.
      const { Metadata: popMetadata, Body: popBody, ...popRest } = popPut!;
      const { Metadata: sesMetadata, Body: sesBody, ...sesRest } = sesPut!;
      expect(popRest).toEqual(sesRest);
      expect((popBody as Buffer).equals(sesBody as Buffer)).toBe(true);
      expect({ ...popMetadata, 'event-source': 'ses' }).toEqual(sesMetadata);
      expect(popMetadata!['event-source']).toBe('pop3-poller');
    });
  });
});
