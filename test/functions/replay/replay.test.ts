import { Readable } from 'node:stream';
import { messageArchivedEvent } from '../../../functions/poller/archived-event';
import type { MessageArchivedDetail, PollEvent } from '../../../functions/poller/events';
import { readMetadata } from '../../../functions/poller/metadata';
import { Spool } from '../../../functions/poller/spool';
import type { ArchiveRecord } from '../../../functions/replay/ports';
import { parseHeaderFilter } from '../../../functions/replay/range';
import { TokenBucket } from '../../../functions/replay/rate';
import { replay, type ReplayOptions } from '../../../functions/replay/replay';
import { MemoryArchiveReader, keyOf, type MemoryObject } from '../../support/memory-archive-reader';
import { MemoryEventSink } from '../../support/memory-ports';
import { makeMessage } from '../../support/poll-fixtures';

/**
 * The replay workflow (functions/replay/replay.ts) over an archive in memory: what it re-emits,
 * in which order, what it skips, how it stops and resumes, and how fast it goes.
 */

const REQUESTED = new Date('2026-12-07T14:00:00.000Z');
const at = (iso: string) => new Date(iso);
const record = (archivedAt: string, uidl: string | null = 'UID', source = 'pop3-poller'): ArchiveRecord => ({
  uidl,
  archivedAt: at(archivedAt),
  source,
});

function options(overrides: Partial<ReplayOptions> = {}): ReplayOptions {
  return { runId: 'run-1', requestedAt: REQUESTED, range: { accounts: [], headers: [] }, ...overrides };
}

/** The event a poll made for this object and record, as messageArchivedEvent builds it. */
async function original(object: MemoryObject, r: ArchiveRecord): Promise<PollEvent<MessageArchivedDetail>> {
  const spool = await Spool.fromStream(Readable.from([object.bytes]), { memoryLimitBytes: 8 * 1024 * 1024 });
  const key = keyOf(object);
  return messageArchivedEvent(
    {
      accountId: object.accountId,
      uidl: r.uidl,
      sha256: key.slice(object.accountId.length + 1, -4),
      size: object.bytes.length,
      location: `memory://${key}`,
      key,
      archivedAt: r.archivedAt,
      source: r.source,
    },
    await readMetadata(spool),
  );
}

const withoutMarker = (event: PollEvent) => {
  const { replay: _replay, ...detail } = event.detail as MessageArchivedDetail;
  return { ...event, detail };
};

describe('replay', () => {
  it('re-emits each original event with the same id and detail plus detail.replay, in key order', async () => {
    const reader = new MemoryArchiveReader();
    const objects: MemoryObject[] = [
      { accountId: 'support', bytes: makeMessage(1), records: [record('2026-12-01T10:00:00.000Z', 'UID-1')] },
      {
        accountId: 'sales',
        bytes: makeMessage(2),
        records: [record('2026-12-01T11:00:00.000Z', null, 'ses')],
      },
      { accountId: 'support', bytes: makeMessage(3), records: [record('2026-12-01T12:00:00.123Z', 'UID-3')] },
    ];
    for (const o of objects) reader.add(o);
    const sink = new MemoryEventSink();

    const result = await replay({ reader, sink }, options());

    expect(result).toMatchObject({
      status: 'complete',
      listed: 3,
      messages: 3,
      events: 3,
      outOfRange: 0,
      corrupt: [],
    });
    const expected = await Promise.all(objects.map((o) => original(o, o.records[0]!)));
    const order = (e: PollEvent) => (e.detail as MessageArchivedDetail).key;
    // Accounts sorted, then keys in byte order.
    const sorted = [...expected].sort((a, b) =>
      a.detail.accountId !== b.detail.accountId
        ? a.detail.accountId < b.detail.accountId
          ? -1
          : 1
        : a.detail.key < b.detail.key
          ? -1
          : 1,
    );
    expect(sink.events.map(order)).toEqual(sorted.map(order));
    expect(sink.events.map(withoutMarker)).toEqual(sorted);
    for (const event of sink.events) {
      expect((event.detail as MessageArchivedDetail).replay).toEqual({
        runId: 'run-1',
        requestedAt: '2026-12-07T14:00:00.000Z',
      });
    }
    expect(sink.events.find((e) => e.detail.accountId === 'sales')).toMatchObject({
      source: 'ses',
      time: '2026-12-01T11:00:00.000Z',
      detail: { uidl: null, archivedAt: '2026-12-01T11:00:00.000Z', subject: 'Message 2' },
    });
    expect(result.checkpoint).toBe(result.key);
  });

  it('re-emits one event per distinct UIDL of an object, the first record of a UIDL winning', async () => {
    const reader = new MemoryArchiveReader();
    const object: MemoryObject = {
      accountId: 'support',
      bytes: makeMessage(1),
      records: [
        record('2026-12-01T10:00:00.000Z', 'UID-A'),
        record('2026-12-01T10:05:00.000Z', 'UID-B'),
        record('2026-12-02T10:00:00.000Z', 'UID-A'),
      ],
    };
    reader.add(object);
    const sink = new MemoryEventSink();
    await replay({ reader, sink }, options());
    expect(sink.events.map(withoutMarker)).toEqual([
      await original(object, object.records[0]!),
      await original(object, object.records[1]!),
    ]);
  });

  describe('range', () => {
    const reader = new MemoryArchiveReader();
    const early = reader.add({
      accountId: 'support',
      bytes: makeMessage(1),
      records: [record('2026-11-30T23:59:59.999Z')],
    });
    const first = reader.add({
      accountId: 'support',
      bytes: makeMessage(2),
      records: [record('2026-12-01T00:00:00.000Z')],
    });
    const invoice = reader.add({
      accountId: 'support',
      bytes: Buffer.from(
        'Subject: =?UTF-8?Q?Your_INVOICE_n=C2=B0_7?=\r\nFrom: Billing <billing@example.com>\r\n\r\nhi\r\n',
      ),
      records: [record('2026-12-02T08:00:00.000Z')],
    });
    const late = reader.add({
      accountId: 'support',
      bytes: makeMessage(4),
      records: [record('2026-12-03T00:00:00.000Z')],
    });
    const other = reader.add({
      accountId: 'sales',
      bytes: makeMessage(5),
      records: [record('2026-12-02T00:00:00.000Z')],
    });

    const keys = async (range: Partial<ReplayOptions['range']>, recordsOnOpen = false) => {
      reader.recordsOnOpen = recordsOnOpen;
      reader.opened.length = 0;
      const sink = new MemoryEventSink();
      const result = await replay(
        { reader, sink },
        options({ range: { accounts: [], headers: [], ...range } }),
      );
      return { keys: sink.events.map((e) => (e.detail as MessageArchivedDetail).key), result };
    };

    it('keeps since ≤ archive time < until, by the record’s time, not the file’s', async () => {
      const window = { since: at('2026-12-01T00:00:00.000Z'), until: at('2026-12-03T00:00:00.000Z') };
      const { keys: got, result } = await keys(window);
      expect(got.sort()).toEqual([first, invoice, other].sort());
      expect(result.outOfRange).toBe(2);
      // Records known at listing: nothing out of range is even opened.
      expect(reader.opened).not.toContain(early);
      expect(reader.opened).not.toContain(late);
    });

    it('decides by the record read with the object when the listing has none (S3)', async () => {
      const window = { since: at('2026-12-01T00:00:00.000Z'), until: at('2026-12-03T00:00:00.000Z') };
      const { keys: got } = await keys(window, true);
      expect(got.sort()).toEqual([first, invoice, other].sort());
    });

    it('selects accounts, and a key prefix', async () => {
      expect((await keys({ accounts: ['sales'] })).keys).toEqual([other]);
      expect((await keys({ keyPrefix: invoice.slice(0, 12) })).keys).toEqual([invoice]);
      expect((await keys({ keyPrefix: 'sal' })).keys).toEqual([other]);
      expect((await keys({ keyPrefix: 'nobody/' })).keys).toEqual([]);
    });

    it('filters on decoded header values, ignoring case; several filters must all match', async () => {
      expect((await keys({ headers: [parseHeaderFilter('Subject: invoice n°')] })).keys).toEqual([invoice]);
      expect((await keys({ headers: [parseHeaderFilter('subject: message 4')] })).keys).toEqual([late]);
      expect(
        (
          await keys({
            headers: [parseHeaderFilter('Subject: invoice'), parseHeaderFilter('From: billing@')],
          })
        ).keys,
      ).toEqual([invoice]);
      expect(
        (await keys({ headers: [parseHeaderFilter('Subject: invoice'), parseHeaderFilter('From: sender')] }))
          .keys,
      ).toEqual([]);
    });
  });

  it('reports an object whose bytes do not hash to its key, skips it, changes nothing and goes on', async () => {
    const reader = new MemoryArchiveReader();
    const good = reader.add({
      accountId: 'support',
      bytes: makeMessage(1),
      records: [record('2026-12-01T10:00:00.000Z')],
    });
    const bad = reader.add({
      accountId: 'support',
      bytes: makeMessage(2),
      key: `support/${'0'.repeat(64)}.eml`,
      records: [record('2026-12-01T10:00:00.000Z')],
    });
    const sink = new MemoryEventSink();
    const reported: string[] = [];
    const result = await replay(
      { reader, sink },
      options({ onCorrupt: (e) => reported.push(`${e.code} ${e.key}`) }),
    );
    expect(result).toMatchObject({ status: 'complete', events: 1, corrupt: [bad] });
    expect(reported).toEqual([`EINTEGRITY ${bad}`]);
    expect(sink.events.map((e) => (e.detail as MessageArchivedDetail).key)).toEqual([good]);
  });

  it('a dry run reads and counts, publishes nothing and saves no checkpoint', async () => {
    const reader = new MemoryArchiveReader();
    const bytes = [makeMessage(1), makeMessage(2, { bodyBytes: 5000 })];
    for (const b of bytes)
      reader.add({ accountId: 'support', bytes: b, records: [record('2026-12-01T10:00:00.000Z')] });
    const saved: string[] = [];
    const result = await replay(
      { reader, checkpoints: { save: async (k) => void saved.push(k) } },
      options({ dryRun: true }),
    );
    expect(result).toMatchObject({
      status: 'complete',
      events: 2,
      messages: 2,
      bytes: bytes[0]!.length + bytes[1]!.length,
    });
    expect(saved).toEqual([]);
  });

  describe('stop, failure and resume', () => {
    const reader = new MemoryArchiveReader();
    for (let n = 1; n <= 25; n++) {
      reader.add({
        accountId: n % 2 ? 'support' : 'sales',
        bytes: makeMessage(n),
        records: [record('2026-12-01T10:00:00.000Z')],
      });
    }
    const ids = (sink: MemoryEventSink) => sink.events.map((e) => e.id);

    it('stops on the signal after publishing what it took; a resume emits the rest, none twice', async () => {
      const stop = new AbortController();
      const first = new MemoryEventSink();
      const saved: string[] = [];
      const checkpoints = { save: async (key: string) => void saved.push(key) };
      const stopped = await replay(
        { reader, sink: first, checkpoints },
        options({
          stop: stop.signal,
          batchSize: 3,
          onProgress: (p) => {
            if (p.events === 7) stop.abort();
          },
        }),
      );
      expect(stopped).toMatchObject({ status: 'stopped', error: { code: 'ESTOPPED', retryable: true } });
      expect(first.events.length).toBeGreaterThanOrEqual(7);
      expect(first.events.length).toBeLessThan(25);
      // The checkpoint is the key of the last event published.
      const lastPublished = (first.events.at(-1)!.detail as MessageArchivedDetail).key;
      expect(stopped.checkpoint).toBe(lastPublished);
      expect(saved.at(-1)).toBe(lastPublished);

      const second = new MemoryEventSink();
      const resumed = await replay({ reader, sink: second }, options({ resumeAfter: stopped.checkpoint! }));
      expect(resumed.status).toBe('complete');
      const all = new MemoryEventSink();
      await replay({ reader, sink: all }, options());
      expect([...ids(first), ...ids(second)]).toEqual(ids(all));
      // Nothing at or before the checkpoint came again.
      for (const e of second.events)
        expect((e.detail as MessageArchivedDetail).key > stopped.checkpoint!).toBe(true);
    });

    it("keeps the sink's verdict on whether publishing can succeed later (a refused events file cannot)", async () => {
      const refusing = {
        publish: async (events: readonly PollEvent[]) => ({
          failedIds: events.map((e) => e.id),
          retryable: false,
        }),
      };
      const result = await replay({ reader, sink: refusing }, options());
      expect(result).toMatchObject({ status: 'failed', error: { code: 'EEVENTS', retryable: false } });
    });

    it('fails on events the sink could not publish, with the checkpoint before their batch', async () => {
      const sink = new MemoryEventSink();
      let calls = 0;
      sink.failWhen = () => ++calls === 12;
      const result = await replay({ reader, sink }, options({ batchSize: 5 }));
      expect(result).toMatchObject({ status: 'failed', error: { code: 'EEVENTS', retryable: true } });
      // Counted: what went out before the failed batch (whose events the sink partly took).
      expect(result.events).toBe(result.messages);
      expect(result.events).toBeLessThan(sink.events.length);
      // Batches of 5 (when the reads keep up): the first two went out; the third failed.
      const published = sink.events.map((e) => (e.detail as MessageArchivedDetail).key);
      expect(published).toContain(result.checkpoint);
      const resumed = new MemoryEventSink();
      await replay({ reader, sink: resumed }, options({ resumeAfter: result.checkpoint! }));
      const all = new MemoryEventSink();
      await replay({ reader, sink: all }, options());
      // Everything at least once; repeated: only events of the failed batch that did get through.
      const union = new Set([...ids(sink), ...ids(resumed)]);
      expect(union).toEqual(new Set(ids(all)));
      const repeated = ids(resumed).filter((id) => ids(sink).includes(id));
      expect(repeated.length).toBeLessThanOrEqual(5);
      // …and they are among the first batch of the resumed run: nothing older comes again.
      for (const id of repeated) expect(ids(resumed).slice(0, 5)).toContain(id);
    });

    it('fails on an archive that cannot be read, having checkpointed what went before', async () => {
      const failing = new MemoryArchiveReader();
      for (let n = 1; n <= 6; n++)
        failing.add({
          accountId: 'support',
          bytes: makeMessage(n),
          records: [record('2026-12-01T10:00:00.000Z')],
        });
      const keys = failing.objects.map(keyOf).sort();
      const open = failing.open.bind(failing);
      failing.open = async (entry) => {
        if (entry.key === keys[3]) throw Object.assign(new Error('SlowDown'), { retryable: true });
        return open(entry);
      };
      const sink = new MemoryEventSink();
      const result = await replay({ reader: failing, sink }, options({ readConcurrency: 1 }));
      expect(result).toMatchObject({
        status: 'failed',
        checkpoint: keys[2],
        error: { code: 'EARCHIVE', retryable: true },
      });
      expect(sink.events).toHaveLength(3);
    });
  });

  it('reads several objects at once, never more than readConcurrency, and emits in order all the same', async () => {
    const reader = new MemoryArchiveReader();
    for (let n = 1; n <= 20; n++)
      reader.add({
        accountId: 'support',
        bytes: makeMessage(n),
        records: [record('2026-12-01T10:00:00.000Z')],
      });
    // Reads finish in reverse order of their start, in groups.
    const waiting: Array<() => void> = [];
    reader.gate = () => new Promise<void>((resolve) => waiting.push(resolve));
    const release = setInterval(
      () =>
        waiting
          .splice(0)
          .reverse()
          .forEach((r) => r()),
      1,
    );
    const sink = new MemoryEventSink();
    try {
      await replay({ reader, sink }, options({ readConcurrency: 4 }));
    } finally {
      clearInterval(release);
    }
    expect(reader.maxReading).toBe(4);
    const keys = sink.events.map((e) => (e.detail as MessageArchivedDetail).key);
    expect(keys).toEqual([...keys].sort());
    expect(keys).toHaveLength(20);
  });

  it('keeps to the rate: N events at R per second take at least (N − burst) / R seconds', async () => {
    const reader = new MemoryArchiveReader();
    for (let n = 1; n <= 30; n++)
      reader.add({
        accountId: 'support',
        bytes: makeMessage(n),
        records: [record('2026-12-01T10:00:00.000Z')],
      });
    let now = 0;
    const stamps: number[] = [];
    const sink = new MemoryEventSink();
    const publish = sink.publish.bind(sink);
    sink.publish = (events) => {
      for (const _ of events) stamps.push(now);
      return publish(events);
    };
    const rate = new TokenBucket({
      ratePerSecond: 5,
      burst: 2,
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    });
    await replay({ reader, sink, rate }, options());
    expect(stamps).toHaveLength(30);
    // 30 events, 2 at once, then 5 per second: the last goes out at ≥ 5.6 s of the fake clock.
    expect(stamps.at(-1)!).toBeGreaterThanOrEqual(((30 - 2) / 5) * 1000);
    // And in no 1 s window more than burst + rate.
    for (let i = 0; i < stamps.length; i++) {
      const inWindow = stamps.filter((t) => t >= stamps[i]! && t < stamps[i]! + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(2 + 5);
    }
  });
});
