import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { EventBridgeSink } from '../../../functions/adapters/eventbridge-sink';
import { S3ArchiveReader } from '../../../functions/adapters/s3-archive-reader';
import type { MessageArchivedDetail } from '../../../functions/poller/events';
import { replay } from '../../../functions/replay/replay';
import { makeMessage } from '../../support/poll-fixtures';

/**
 * Replay from the archive bucket to the bus: the S3 reader (List and Get only) under the replay
 * workflow, publishing through the real EventBridge sink, with both SDK clients mocked and every
 * command they were sent asserted.
 */

const s3Mock = mockClient(S3Client);
const ebMock = mockClient(EventBridgeClient);

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const BUCKET = 'archive-bucket';
const PREFIX = 'mail/';

interface StoredObject {
  readonly key: string;
  readonly bytes: Buffer;
  readonly metadata: Record<string, string>;
  readonly lastModified: Date;
}

const pop3 = makeMessage(1);
const older = makeMessage(2);
const ses = Buffer.from(
  'Return-Path: <bounce@example.org>\r\nReceived: from mail.example.org by inbound-smtp.eu-west-1.amazonaws.com\r\n' +
    'X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nFrom: Partner <partner@example.org>\r\n' +
    'To: orders@example.com\r\nSubject: Order 77\r\nMessage-ID: <77@example.org>\r\n\r\nPlease ship.\r\n',
);
const corrupt = makeMessage(4);

const objects: StoredObject[] = (
  [
    {
      key: `support/${sha(pop3)}.eml`,
      bytes: pop3,
      metadata: {
        'account-id': 'support',
        sha256: sha(pop3),
        uidl: 'UID-1',
        'archived-at': '2026-12-01T10:00:00.123Z',
        'event-source': 'pop3-poller',
      },
      lastModified: new Date('2026-12-01T10:00:01.000Z'),
    },
    {
      // Written by an older version: no archived-at, no event-source.
      key: `support/${sha(older)}.eml`,
      bytes: older,
      metadata: { 'account-id': 'support', sha256: sha(older), uidl: 'UID-2' },
      lastModified: new Date('2026-12-01T12:00:00.000Z'),
    },
    {
      // Bytes that do not hash to the key: reported and skipped, never rewritten.
      key: `support/${'f'.repeat(64)}.eml`,
      bytes: corrupt,
      metadata: {
        'account-id': 'support',
        'archived-at': '2026-12-01T13:00:00.000Z',
        'event-source': 'pop3-poller',
      },
      lastModified: new Date('2026-12-01T13:00:00.000Z'),
    },
    {
      key: `orders@example.com/${sha(ses)}.eml`,
      bytes: ses,
      metadata: {
        'account-id': 'orders@example.com',
        sha256: sha(ses),
        'archived-at': '2026-12-01T09:00:00.000Z',
        'event-source': 'ses',
      },
      lastModified: new Date('2026-12-01T09:00:00.500Z'),
    },
    {
      // Archived long before --since: out of range by its LastModified, never fetched.
      key: `support/${sha(makeMessage(5))}.eml`,
      bytes: makeMessage(5),
      metadata: {
        'account-id': 'support',
        'archived-at': '2026-10-01T00:00:00.000Z',
        'event-source': 'pop3-poller',
      },
      lastModified: new Date('2026-10-01T00:00:00.000Z'),
    },
  ] as StoredObject[]
).sort((a, b) => (a.key < b.key ? -1 : 1));

function serveBucket(pageSize = 2): void {
  s3Mock
    .on(ListObjectsV2Command)
    .callsFake(
      (input: { Prefix: string; Delimiter?: string; StartAfter?: string; ContinuationToken?: string }) => {
        const matching = objects
          .map((o) => ({ ...o, full: PREFIX + o.key }))
          .filter(
            (o) =>
              o.full.startsWith(input.Prefix) &&
              (input.StartAfter === undefined || o.full > input.StartAfter),
          );
        if (input.Delimiter === '/') {
          const folders = [
            ...new Set(matching.map((o) => o.full.slice(0, o.full.indexOf('/', input.Prefix.length) + 1))),
          ];
          return { CommonPrefixes: folders.map((Prefix) => ({ Prefix })), IsTruncated: false };
        }
        const start = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
        const page = matching.slice(start, start + pageSize);
        const more = start + pageSize < matching.length;
        return {
          Contents: page.map((o) => ({ Key: o.full, Size: o.bytes.length, LastModified: o.lastModified })),
          IsTruncated: more,
          ...(more ? { NextContinuationToken: String(start + pageSize) } : {}),
        };
      },
    );
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const o = objects.find((x) => PREFIX + x.key === input.Key)!;
    return {
      Body: Readable.from([o.bytes.subarray(0, 7), o.bytes.subarray(7)]),
      Metadata: o.metadata,
      LastModified: o.lastModified,
      ContentLength: o.bytes.length,
    } as unknown as GetObjectCommandOutput;
  });
}

describe('S3ArchiveReader under replay, to EventBridge', () => {
  let entries: PutEventsRequestEntry[];

  beforeEach(() => {
    s3Mock.reset();
    ebMock.reset();
    entries = [];
    serveBucket();
    ebMock.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => {
      entries.push(...input.Entries);
      return { FailedEntryCount: 0, Entries: input.Entries.map((_, i) => ({ EventId: `eb-${i}` })) };
    });
  });

  afterAll(() => {
    s3Mock.restore();
    ebMock.restore();
  });

  const run = (options: { since?: Date; resumeAfter?: string } = {}) => {
    const corrupted: string[] = [];
    return replay(
      {
        reader: new S3ArchiveReader(new S3Client({ region: 'eu-west-1' }), {
          bucket: BUCKET,
          prefix: PREFIX,
        }),
        sink: new EventBridgeSink(new EventBridgeClient({ region: 'eu-west-1' }), {
          eventBusName: 'mail-bus',
        }),
      },
      {
        runId: 'run-7',
        requestedAt: new Date('2026-12-07T14:00:00.000Z'),
        range: { accounts: [], headers: [], ...(options.since ? { since: options.since } : {}) },
        ...(options.resumeAfter ? { resumeAfter: options.resumeAfter } : {}),
        onCorrupt: (e) => corrupted.push(e.key!),
      },
    ).then((result) => ({ result, corrupted }));
  };

  it('sends only ListObjectsV2 and GetObject (ChecksumMode ENABLED), and puts the original events', async () => {
    const { result, corrupted } = await run({ since: new Date('2026-11-30T00:00:00.000Z') });

    expect(result).toMatchObject({ status: 'complete', events: 3, outOfRange: 1 });
    const corruptKey = `support/${'f'.repeat(64)}.eml`;
    expect(corrupted).toEqual([corruptKey]);
    expect(result.corrupt).toEqual([corruptKey]);

    // Only reads, never a write, copy, tag or delete.
    const sent = s3Mock.calls().map((c) => c.args[0].constructor.name);
    expect(new Set(sent)).toEqual(new Set(['ListObjectsV2Command', 'GetObjectCommand']));
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: BUCKET,
      Prefix: PREFIX,
      Delimiter: '/',
    });
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: BUCKET,
      Prefix: `${PREFIX}support/`,
    });
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: BUCKET,
      Prefix: `${PREFIX}support/`,
      ContinuationToken: '2',
    });
    const gets = s3Mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input);
    expect(gets).toEqual(
      objects
        .filter((o) => o.lastModified.getTime() > Date.parse('2026-11-01'))
        .map((o) => ({ Bucket: BUCKET, Key: PREFIX + o.key, ChecksumMode: 'ENABLED' })),
    );

    const sesEntry = entries.find((e) => e.Source === 'ses')!;
    const detail = (e: PutEventsRequestEntry) => JSON.parse(e.Detail!) as MessageArchivedDetail;
    expect(entries.map((e) => detail(e).key)).toEqual(
      [`orders@example.com/${sha(ses)}.eml`, `support/${sha(older)}.eml`, `support/${sha(pop3)}.eml`].sort(),
    );
    expect(sesEntry).toMatchObject({
      EventBusName: 'mail-bus',
      Source: 'ses',
      DetailType: 'Message Archived',
      Time: new Date('2026-12-01T09:00:00.000Z'),
    });
    expect(detail(sesEntry)).toMatchObject({
      accountId: 'orders@example.com',
      uidl: null,
      location: `s3://${BUCKET}/${PREFIX}orders@example.com/${sha(ses)}.eml`,
      key: `orders@example.com/${sha(ses)}.eml`,
      subject: 'Order 77',
      from: { name: 'Partner', address: 'partner@example.org' },
      archivedAt: '2026-12-01T09:00:00.000Z',
      replay: { runId: 'run-7', requestedAt: '2026-12-07T14:00:00.000Z' },
    });
    const pop3Entry = entries.find((e) => detail(e).sha256 === sha(pop3))!;
    expect(pop3Entry).toMatchObject({ Source: 'pop3-poller', Time: new Date('2026-12-01T10:00:00.123Z') });
    expect(detail(pop3Entry)).toMatchObject({ uidl: 'UID-1', archivedAt: '2026-12-01T10:00:00.123Z' });
    // No archived-at or event-source (an older version wrote it): LastModified and pop3-poller.
    const olderEntry = entries.find((e) => detail(e).sha256 === sha(older))!;
    expect(olderEntry).toMatchObject({ Source: 'pop3-poller', Time: new Date('2026-12-01T12:00:00.000Z') });
    expect(detail(olderEntry)).toMatchObject({ uidl: 'UID-2', archivedAt: '2026-12-01T12:00:00.000Z' });
  });

  it('resumes with StartAfter at the checkpoint', async () => {
    const after = `support/${sha(older)}.eml`;
    const { result } = await run({ resumeAfter: after });
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: BUCKET,
      Prefix: `${PREFIX}support/`,
      StartAfter: PREFIX + after,
    });
    // orders@example.com sorts before support: not listed again.
    expect(s3Mock).not.toHaveReceivedCommandWith(ListObjectsV2Command, {
      Prefix: `${PREFIX}orders@example.com/`,
    });
    expect(
      entries.map((e) => (JSON.parse(e.Detail!) as MessageArchivedDetail).key).every((k) => k > after),
    ).toBe(true);
    expect(result.status).toBe('complete');
  });

  it('stops with EARCHIVE, retryable, when S3 throttles, having put what went before', async () => {
    s3Mock.on(GetObjectCommand, { Key: PREFIX + objects.find((o) => o.bytes === pop3)!.key }).rejects(
      Object.assign(new Error('Please reduce your request rate.'), {
        name: 'SlowDown',
        $metadata: { httpStatusCode: 503 },
      }),
    );
    const { result } = await run();
    expect(result).toMatchObject({ status: 'failed', error: { code: 'EARCHIVE', retryable: true } });
    expect(result.error!.message).toMatch(/SlowDown/);
    expect(result.checkpoint! < `support/${sha(pop3)}.eml`).toBe(true);
  });
});
