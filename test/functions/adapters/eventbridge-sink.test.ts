import {
  EventBridgeClient,
  EventBridgeServiceException,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  EventBridgeSink,
  entrySize,
  type EventBridgeSinkOptions,
  type PublishFailure,
} from '../../../functions/adapters/eventbridge-sink';
import type { MessageArchivedDetail, PollEvent } from '../../../functions/poller/events';

const ebMock = mockClient(EventBridgeClient);
const BUS = 'arn:aws:events:eu-west-1:111122223333:event-bus/mail';
const TIME = '2025-03-01T12:00:00.000Z';

function messageDetail(n: number, overrides: Partial<MessageArchivedDetail> = {}): MessageArchivedDetail {
  return {
    eventId: `id-${n}`,
    accountId: 'support',
    uidl: `UID-${n}`,
    sha256: 'ab'.repeat(32),
    size: 1234,
    location: `s3://mail-archive/support/${n}.eml`,
    key: `support/${n}.eml`,
    metadata: 'complete',
    subject: `Message ${n}`,
    from: { name: 'Alice', address: 'alice@example.com' },
    to: [{ name: 'Support', address: 'support@example.com' }],
    cc: [],
    date: TIME,
    messageId: `<${n}@example.com>`,
    attachments: [],
    archivedAt: TIME,
    ...overrides,
  };
}

function eventOf(n: number, overrides: Partial<MessageArchivedDetail> = {}): PollEvent {
  return {
    id: `id-${n}`,
    source: 'pop3-poller',
    detailType: 'Message Archived',
    time: TIME,
    detail: messageDetail(n, overrides),
  };
}

function entryOf(event: PollEvent): PutEventsRequestEntry {
  return {
    EventBusName: BUS,
    Source: event.source,
    DetailType: event.detailType,
    Detail: JSON.stringify(event.detail),
    Time: new Date(event.time),
  };
}

/** Answers every entry as published. */
function allOk(input: { Entries?: PutEventsRequestEntry[] }) {
  return {
    FailedEntryCount: 0,
    Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `eb-${i}` })),
  };
}

const sentEntries = (call: number) =>
  ebMock.commandCalls(PutEventsCommand)[call]!.args[0].input.Entries ?? [];

function serviceError(name: string, httpStatusCode: number): EventBridgeServiceException {
  return new EventBridgeServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `${name} from the test`,
  });
}

const sleeps: number[] = [];
const failures: PublishFailure[] = [];
function sink(options: Partial<EventBridgeSinkOptions> = {}): EventBridgeSink {
  return new EventBridgeSink(new EventBridgeClient({ region: 'eu-west-1' }), {
    eventBusName: BUS,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onFailure: (failure) => failures.push(failure),
    ...options,
  });
}

beforeEach(() => {
  ebMock.reset();
  sleeps.length = 0;
  failures.length = 0;
});

describe('Class: EventBridgeSink', () => {
  it('sends each event as an entry on the configured bus', async () => {
    ebMock.on(PutEventsCommand).callsFake(allOk);
    const events = [eventOf(1), eventOf(2)];

    await expect(sink().publish(events)).resolves.toEqual({ failedIds: [] });

    expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(ebMock).toHaveReceivedCommandWith(PutEventsCommand, { Entries: events.map(entryOf) });
    expect(ebMock.commandCalls(PutEventsCommand)[0]!.args[0].input).toEqual({
      Entries: [
        {
          EventBusName: BUS,
          Source: 'pop3-poller',
          DetailType: 'Message Archived',
          Detail: JSON.stringify(messageDetail(1)),
          Time: new Date(TIME),
        },
        entryOf(events[1]!),
      ],
    });
  });

  it('sends nothing for no events', async () => {
    await expect(sink().publish([])).resolves.toEqual({ failedIds: [] });
    expect(ebMock.calls()).toHaveLength(0);
  });

  it('batches by count: 25 events go out as 10, 10 and 5, in order', async () => {
    ebMock.on(PutEventsCommand).callsFake(allOk);
    const events = Array.from({ length: 25 }, (_, i) => eventOf(i));

    await expect(sink().publish(events)).resolves.toEqual({ failedIds: [] });

    expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 3);
    expect([0, 1, 2].map((call) => sentEntries(call).length)).toEqual([10, 10, 5]);
    expect([0, 1, 2].flatMap((call) => sentEntries(call).map((e) => JSON.parse(e.Detail!).eventId))).toEqual(
      events.map((e) => e.id),
    );
  });

  it('batches by bytes: every request stays below 256 KB counted the way AWS counts it', async () => {
    ebMock.on(PutEventsCommand).callsFake(allOk);
    // Each event about 100 KB: two fit in one request, three do not.
    const events = Array.from({ length: 5 }, (_, i) => eventOf(i, { subject: 'x'.repeat(100_000) }));

    await expect(sink().publish(events)).resolves.toEqual({ failedIds: [] });

    expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 3);
    expect([0, 1, 2].map((call) => sentEntries(call).length)).toEqual([2, 2, 1]);
    for (const call of [0, 1, 2]) {
      const bytes = sentEntries(call).reduce((sum, entry) => sum + entrySize(entry), 0);
      expect(bytes).toBeLessThan(256 * 1024);
    }
  });

  it('keeps a request strictly below 262,144 bytes: one byte less fits, exactly the limit splits', async () => {
    ebMock.on(PutEventsCommand).callsFake(allOk);
    const base = entrySize(entryOf(eventOf(1, { subject: '' })));
    const sized = (n: number, bytes: number) => eventOf(n, { subject: 'x'.repeat(bytes - base) });

    await sink().publish([sized(1, 131_072), sized(2, 131_071)]);
    expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);

    ebMock.resetHistory();
    await sink().publish([sized(1, 131_072), sized(2, 131_072)]);
    expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 2);
  });

  it('counts multi-byte characters as their UTF-8 bytes', async () => {
    ebMock.on(PutEventsCommand).callsFake(allOk);
    // 45,000 three-byte characters: 135 KB each, though only 45,000 UTF-16 units.
    const events = [eventOf(1, { subject: '€'.repeat(45_000) }), eventOf(2, { subject: '€'.repeat(45_000) })];

    await sink().publish(events);

    expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 2);
  });

  describe('Function: entrySize', () => {
    it('adds Source, DetailType, Detail and Resources in UTF-8 bytes, and 14 for Time', () => {
      expect(
        entrySize({
          Source: 'pop3-poller',
          DetailType: 'Message Archived',
          Detail: '{"s":"é"}',
          Resources: ['arn:a', 'arn:bc'],
          Time: new Date(TIME),
          EventBusName: 'not counted',
        }),
      ).toBe(11 + 16 + 10 + 5 + 6 + 14);
      expect(entrySize({ Source: 'a', DetailType: 'b', Detail: '{}' })).toBe(4);
    });
  });

  describe('partial failures', () => {
    it('re-sends only the entries that failed transiently, then reports success', async () => {
      const events = [eventOf(1), eventOf(2), eventOf(3)];
      ebMock
        .on(PutEventsCommand)
        .resolvesOnce({
          FailedEntryCount: 1,
          Entries: [
            { EventId: 'eb-1' },
            { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
            { EventId: 'eb-3' },
          ],
        })
        .callsFake(allOk);

      await expect(sink().publish(events)).resolves.toEqual({ failedIds: [] });

      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 2);
      expect(ebMock).toHaveReceivedNthCommandWith(2, PutEventsCommand, { Entries: [entryOf(events[1]!)] });
      expect(sleeps).toHaveLength(1);
      expect(sleeps[0]).toBeGreaterThanOrEqual(50);
      expect(sleeps[0]).toBeLessThanOrEqual(100);
      expect(failures).toEqual([]);
    });

    it('reports entries still failing after maxAttempts in failedIds, with growing backoff', async () => {
      const events = [eventOf(1), eventOf(2)];
      ebMock.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => ({
        FailedEntryCount: 1,
        Entries: input.Entries.map((entry): PutEventsResultEntry =>
          JSON.parse(entry.Detail!).eventId === 'id-2'
            ? { ErrorCode: 'InternalFailure', ErrorMessage: 'internal' }
            : { EventId: 'eb' },
        ),
      }));

      await expect(sink({ maxAttempts: 4 }).publish(events)).resolves.toEqual({ failedIds: ['id-2'] });

      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 4);
      expect(sleeps).toHaveLength(3);
      expect(sleeps[2]!).toBeGreaterThanOrEqual(200);
      expect(sleeps[2]!).toBeLessThanOrEqual(400);
      expect(failures).toEqual([{ ids: ['id-2'], errorCode: 'InternalFailure', errorMessage: 'internal' }]);
    });

    it('does not re-send entries that failed permanently', async () => {
      ebMock.on(PutEventsCommand).resolves({
        FailedEntryCount: 1,
        Entries: [
          { EventId: 'eb-1' },
          { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' },
        ],
      });

      await expect(sink().publish([eventOf(1), eventOf(2)])).resolves.toEqual({ failedIds: ['id-2'] });

      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
      expect(failures).toEqual([
        { ids: ['id-2'], errorCode: 'MalformedDetail', errorMessage: 'Detail is malformed.' },
      ]);
    });

    it('treats an entry missing from the response as not published and sends it again', async () => {
      ebMock
        .on(PutEventsCommand)
        .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'eb-1' }] })
        .callsFake(allOk);

      await expect(sink().publish([eventOf(1), eventOf(2)])).resolves.toEqual({ failedIds: [] });

      expect(ebMock).toHaveReceivedNthCommandWith(2, PutEventsCommand, { Entries: [entryOf(eventOf(2))] });
    });
  });

  describe('whole-request failures (the SDK client retries them; the sink does not again)', () => {
    it("reports a throttled request at once instead of sending it again on top of the SDK's own attempts", async () => {
      ebMock.on(PutEventsCommand).rejectsOnce(serviceError('ThrottlingException', 400)).callsFake(allOk);

      await expect(sink().publish([eventOf(1), eventOf(2)])).resolves.toEqual({
        failedIds: ['id-1', 'id-2'],
      });

      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
      expect(failures).toEqual([
        expect.objectContaining({ ids: ['id-1'], errorCode: 'ThrottlingException' }),
        expect.objectContaining({ ids: ['id-2'], errorCode: 'ThrottlingException' }),
      ]);
    });

    it('reports every id of a failed batch, without throwing, and goes on with the next batch', async () => {
      const events = Array.from({ length: 12 }, (_, i) => eventOf(i));
      ebMock.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => {
        if (input.Entries.length === 10) throw serviceError('InternalException', 500);
        return allOk(input);
      });

      const outcome = await sink({ maxAttempts: 3 }).publish(events);

      expect(outcome.failedIds).toEqual(events.slice(0, 10).map((e) => e.id));
      // One send of the first batch, one of the second.
      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 2);
      expect(failures).toHaveLength(10);
      expect(failures[0]).toMatchObject({ ids: ['id-0'], errorCode: 'InternalException' });
    });

    it("reports a request refused for good (access denied) with the SDK's message", async () => {
      ebMock.on(PutEventsCommand).rejects(serviceError('AccessDeniedException', 400));

      await expect(sink().publish([eventOf(1), eventOf(2)])).resolves.toEqual({
        failedIds: ['id-1', 'id-2'],
      });

      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
      expect(failures[0]).toEqual({
        ids: ['id-1'],
        errorCode: 'AccessDeniedException',
        errorMessage: 'AccessDeniedException: AccessDeniedException from the test',
      });
    });
  });

  describe('oversized events', () => {
    const manyAttachments = Array.from({ length: 4000 }, (_, i) => ({
      filename: `attachment-${i}-with-a-rather-long-file-name.pdf`,
      mimeType: 'application/pdf',
      size: 1000 + i,
    }));

    it('drops the attachment list first, and says so in the detail', async () => {
      ebMock.on(PutEventsCommand).callsFake(allOk);

      await expect(sink().publish([eventOf(1, { attachments: manyAttachments })])).resolves.toEqual({
        failedIds: [],
      });

      const detail = JSON.parse(sentEntries(0)[0]!.Detail!);
      expect(detail.attachments).toBeNull();
      expect(detail.truncated).toEqual(['attachments']);
      expect(detail.to).toEqual(messageDetail(1).to);
      expect(detail.subject).toBe('Message 1');
    });

    it('then empties cc and to', async () => {
      ebMock.on(PutEventsCommand).callsFake(allOk);
      const recipients = Array.from({ length: 6000 }, (_, i) => ({
        name: `Person ${i}`,
        address: `p${i}@example.com`,
      }));

      await sink().publish([eventOf(1, { attachments: manyAttachments, to: recipients, cc: recipients })]);

      const entry = sentEntries(0)[0]!;
      expect(entrySize(entry)).toBeLessThan(256 * 1024);
      const detail = JSON.parse(entry.Detail!);
      expect(detail).toMatchObject({
        attachments: null,
        cc: [],
        to: [],
        truncated: ['attachments', 'cc', 'to'],
      });
      expect(detail.sha256).toBe('ab'.repeat(32));
      expect(detail.location).toBe('s3://mail-archive/support/1.eml');
    });

    it('reports an event that cannot be shrunk enough as failed, and sends the rest', async () => {
      ebMock.on(PutEventsCommand).callsFake(allOk);
      const hopeless: PollEvent = { ...eventOf(1), source: 's'.repeat(300_000) };

      await expect(sink().publish([hopeless, eventOf(2)])).resolves.toEqual({ failedIds: ['id-1'] });

      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
      expect(sentEntries(0)).toEqual([entryOf(eventOf(2))]);
      expect(failures).toEqual([expect.objectContaining({ ids: ['id-1'], errorCode: 'EventTooLarge' })]);
    });
  });

  it('throws on an event whose time is not a date (a bug, not an outage)', async () => {
    await expect(sink().publish([{ ...eventOf(1), time: 'yesterday' }])).rejects.toThrow(TypeError);
    expect(ebMock.calls()).toHaveLength(0);
  });
});
