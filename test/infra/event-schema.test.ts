import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash } from 'node:crypto';
import { EventBridgeSink } from '../../functions/adapters/eventbridge-sink';
import { archiveKey } from '../../functions/poller/archive-key';
import { replay } from '../../functions/replay/replay';
import { MemoryArchiveReader } from '../support/memory-archive-reader';
import type { AccountConfig } from '../../functions/poller/account';
import {
  stableEventId,
  type MessageArchivedDetail,
  type PollSummaryDetail,
} from '../../functions/poller/events';
import { pollAccounts } from '../../functions/poller/poll-accounts';
import schema from '../../infra/event-schema.json';
import { mailboxScript, startFakeServer, type FakeServer } from '../support/fake-pop3-server';
import { delivered } from '../support/eventbridge-delivery';
import { validate } from '../support/json-schema';
import { MemoryArchive, StaticCredentials } from '../support/memory-ports';
import { loopbackAccount, makeMessage } from '../support/poll-fixtures';

/**
 * infra/event-schema.json against real events: the poll workflow runs against scripted POP3
 * servers, publishes through the real EventBridge sink (the SDK client mocked), and every entry
 * it sends, as a rule's target would receive it, must validate. Plus: the schema lists exactly
 * the fields of the TypeScript detail types, and rejects what the workflow never emits.
 */

const ebMock = mockClient(EventBridgeClient);
const root = schema as unknown as Record<string, unknown>;

const multipart = Buffer.from(
  [
    'From: =?UTF-8?B?w4lsb2TDrWU=?= <elodie@example.org>',
    'To: Support <support@example.com>, sales@example.com',
    'Cc: Audit <audit@example.com>',
    'Subject: =?ISO-8859-1?Q?Facture_n=B0_42?=',
    'Message-ID: <invoice-42@example.org>',
    'Date: Tue, 04 Mar 2025 10:00:00 +0100',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'See attached.',
    '--b1',
    'Content-Type: application/pdf; name="invoice-42.pdf"',
    'Content-Disposition: attachment; filename="invoice-42.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('%PDF-1.4 fake').toString('base64'),
    '--b1',
    'Content-Type: application/octet-stream',
    'Content-Disposition: attachment',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from([0, 1, 2, 3]).toString('base64'),
    '--b1--',
    '',
  ].join('\r\n'),
);

/** No Subject, no From, no Message-ID, a Date that does not parse: the nullable fields. */
const bare = Buffer.from('X-Note: nothing else\r\nDate: someday\r\n\r\nbody\r\n');

/** So many recipients that the event exceeds 256 KB and the sink shrinks it. */
const crowded = Buffer.from(
  `From: a@example.org\r\nTo: ${Array.from({ length: 9000 }, (_, i) => `"Recipient number ${i}" <r${i}@example.com>`).join(', ')}\r\nSubject: all\r\n\r\nhi\r\n`,
);

describe('infra/event-schema.json', () => {
  const servers: FakeServer[] = [];
  let entries: PutEventsRequestEntry[];

  beforeAll(async () => {
    ebMock.reset();
    entries = [];
    ebMock.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => {
      entries.push(...input.Entries);
      return { FailedEntryCount: 0, Entries: input.Entries.map((_, i) => ({ EventId: `eb-${i}` })) };
    });
    const good = await startFakeServer(
      mailboxScript({ messages: [makeMessage(1), multipart, bare, crowded] }),
    );
    const refusing = await startFakeServer(mailboxScript({ password: 'another-password' }));
    servers.push(good, refusing);
    const account = (id: string, server: FakeServer): AccountConfig => loopbackAccount(id, server.port);
    const archive = new MemoryArchive();
    // The second message fails to archive: the run stops there (retryable), the message stays on the server.
    archive.failWhen = (item) =>
      item.size === multipart.length && archive.puts.length === 1 ? new Error('disk full') : undefined;
    await pollAccounts(
      [account('support', good), account('sales', refusing)],
      {
        credentials: new StaticCredentials({
          support: { password: 'secret-password' },
          sales: { password: 'secret-password' },
        }),
        archive,
        events: new EventBridgeSink(new EventBridgeClient({}), {
          eventBusName: 'pop3-poller-bus',
          sleep: async () => {},
        }),
      },
      { runId: 'run-1' },
    );
    // And a run in which one message cannot be retrieved (partial) and the multipart one archives.
    const again = await startFakeServer(
      mailboxScript({
        messages: [multipart, makeMessage(2)],
        override: (line) => (line === 'RETR 2' ? '-ERR [SYS/TEMP] message unavailable\r\n' : undefined),
      }),
    );
    servers.push(again);
    await pollAccounts(
      [account('billing', again)],
      {
        credentials: new StaticCredentials({ billing: { password: 'secret-password' } }),
        archive: new MemoryArchive(),
        events: new EventBridgeSink(new EventBridgeClient({}), { eventBusName: 'pop3-poller-bus' }),
      },
      { runId: 'run-2' },
    );
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    ebMock.restore();
  });

  const ofType = (type: string) => entries.filter((e) => e.DetailType === type).map(delivered);

  it('validates every event the workflow published', () => {
    expect(entries.length).toBeGreaterThanOrEqual(6);
    for (const event of entries.map(delivered)) expect(validate(root, event)).toEqual([]);
  });

  it('covers each detail type, and the shapes a consumer must handle', () => {
    const archived = ofType('Message Archived').map(
      (e) => e.detail as MessageArchivedDetail & { truncated?: string[] },
    );
    const completed = ofType('Poll Completed').map((e) => e.detail as PollSummaryDetail);
    const failed = ofType('Poll Failed').map((e) => e.detail as PollSummaryDetail);
    // Attachments (one without a filename), decoded names and subject.
    expect(archived).toContainEqual(
      expect.objectContaining({
        metadata: 'complete',
        subject: 'Facture n° 42',
        from: { name: 'Élodíe', address: 'elodie@example.org' },
        attachments: expect.arrayContaining([
          expect.objectContaining({ filename: 'invoice-42.pdf', mimeType: 'application/pdf' }),
          expect.objectContaining({ filename: null }),
        ]),
      }),
    );
    // The nullable fields.
    expect(archived).toContainEqual(
      expect.objectContaining({ subject: null, from: null, messageId: null, date: null }),
    );
    // An event shrunk below EventBridge's limit.
    expect(archived).toContainEqual(
      expect.objectContaining({ truncated: expect.arrayContaining(['to']), to: [] }),
    );
    expect(completed).toContainEqual(
      expect.objectContaining({ accountId: 'billing', status: 'partial', remaining: 1 }),
    );
    expect(failed).toContainEqual(
      expect.objectContaining({
        accountId: 'sales',
        status: 'failed',
        errorCode: 'EAUTH',
        needsAttention: true,
      }),
    );
    expect(failed).toContainEqual(
      expect.objectContaining({
        accountId: 'support',
        status: 'failed',
        errorCode: 'EARCHIVE',
        retryable: true,
      }),
    );
  });

  it('lists exactly the fields of the detail types', () => {
    // Compile-time: adding a field to a detail type without listing it here fails the type check.
    const archivedFields: Record<keyof MessageArchivedDetail, true> = {
      eventId: true,
      accountId: true,
      uidl: true,
      sha256: true,
      size: true,
      location: true,
      key: true,
      metadata: true,
      metadataError: true,
      subject: true,
      from: true,
      to: true,
      cc: true,
      date: true,
      messageId: true,
      attachments: true,
      archivedAt: true,
      replay: true,
    };
    const summaryFields: Record<keyof PollSummaryDetail, true> = {
      accountId: true,
      runId: true,
      status: true,
      listed: true,
      fetched: true,
      archived: true,
      deleted: true,
      bytes: true,
      durationMs: true,
      remaining: true,
      errorCode: true,
      errorMessage: true,
      retryable: true,
      needsAttention: true,
    };
    const defs = schema.$defs;
    // `truncated` is the sink's, not the workflow's.
    expect(Object.keys(defs.MessageArchivedDetail.properties).sort()).toEqual(
      [...Object.keys(archivedFields), 'truncated'].sort(),
    );
    expect(Object.keys(defs.PollSummary.properties).sort()).toEqual(
      [...Object.keys(summaryFields), 'truncated'].sort(),
    );
  });

  it('rejects what the workflow never emits', () => {
    const [archived] = ofType('Message Archived');
    const [failed] = ofType('Poll Failed');
    const broken = (event: Record<string, unknown>, detail: Record<string, unknown>) => ({
      ...event,
      detail: { ...(event.detail as object), ...detail },
    });
    expect(validate(root, broken(archived!, { sha256: 'not-a-hash' }))).toEqual([
      expect.stringMatching(/\$\.detail\.sha256: .* does not match/),
    ]);
    expect(validate(root, broken(archived!, { size: -1 }))).toEqual([
      expect.stringMatching(/size: -1 is below 0/),
    ]);
    expect(validate(root, broken(archived!, { surprise: 1 }))).toEqual(['$.detail: surprise is not allowed']);
    expect(validate(root, broken(failed!, { status: 'ok' }))).toEqual([
      '$.detail.status: is "ok", expected "failed"',
    ]);
    expect(validate(root, { ...archived!, source: '' })).toEqual([expect.stringMatching(/\$\.source: .*/)]);
    // A configured source, and SES-received mail's, are sources too (docs/ses-inbound.md).
    expect(validate(root, { ...archived!, source: 'ses' })).toEqual([]);
    expect(validate(root, { ...archived!, source: 'acme.mail' })).toEqual([]);
    const { errorCode: _errorCode, ...withoutCode } = failed!.detail as Record<string, unknown>;
    expect(validate(root, { ...failed!, detail: withoutCode })).toEqual(['$.detail: errorCode is required']);
  });

  it('validates a replayed event, and documents the id and key derivation it keeps', async () => {
    // Replayed by the workflow from an archive of the multipart message, through the real sink.
    const reader = new MemoryArchiveReader();
    const key = reader.add({
      accountId: 'support',
      bytes: multipart,
      records: [
        { uidl: 'UID-0001', archivedAt: new Date('2026-12-01T10:00:00.123Z'), source: 'pop3-poller' },
      ],
    });
    const before = entries.length;
    const result = await replay(
      { reader, sink: new EventBridgeSink(new EventBridgeClient({}), { eventBusName: 'pop3-poller-bus' }) },
      {
        runId: 'replay-1',
        requestedAt: new Date('2026-12-07T14:00:00Z'),
        range: { accounts: [], headers: [] },
      },
    );
    expect(result.events).toBe(1);
    const [replayed] = entries.slice(before).map(delivered);
    expect(validate(root, replayed)).toEqual([]);
    const detail = replayed!.detail as MessageArchivedDetail;
    expect(detail).toMatchObject({
      key,
      eventId: stableEventId('support', 'UID-0001', key.slice(8, -4)),
      replay: { runId: 'replay-1', requestedAt: '2026-12-07T14:00:00.000Z' },
    });
    const broken = (marker: unknown) => ({ ...replayed!, detail: { ...detail, replay: marker } });
    expect(validate(root, broken({ runId: 'replay-1' }))).toEqual([
      '$.detail.replay: requestedAt is required',
    ]);
    expect(validate(root, broken({ ...detail.replay, by: 'me' }))).toEqual([
      '$.detail.replay: by is required'.replace('is required', 'is not allowed'),
    ]);

    // The worked example in the schema's description is what the code derives.
    const example =
      /account `([^`]+)`, UIDL `([^`]+)`, message `([^`]+)` → sha256 `([0-9a-f]{64})`, key `([^`]+)`, eventId `([^`]+)`/.exec(
        root.description as string,
      )!;
    const [, account, uidl, message, sha256, exampleKey, eventId] = example;
    const bytes = Buffer.from(message!.replaceAll('\\r\\n', '\r\n'), 'latin1');
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(sha256);
    expect(archiveKey(account!, sha256!)).toBe(exampleKey);
    expect(stableEventId(account!, uidl!, sha256!)).toBe(eventId);
  });
});
