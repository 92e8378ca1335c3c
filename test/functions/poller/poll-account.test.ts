import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AccountConfig } from '../../../functions/poller/account';
import { archiveKey } from '../../../functions/poller/archive-key';
import { stableEventId, type MessageArchivedDetail, type PollEvent } from '../../../functions/poller/events';
import {
  pollAccount,
  type AccountProgress,
  type AccountResult,
  type PollOptions,
} from '../../../functions/poller/poll-account';
import type { ArchiveItem, Clock, StoredObject } from '../../../functions/poller/ports';
import { Pop3Client, Pop3Error } from '../../../functions/pop3';
import { FaultyConnector, type ClientFaults, type SessionRecord } from '../../support/faulty-connect';
import {
  MemoryArchive,
  MemoryEventSink,
  MemorySeenStore,
  StaticCredentials,
} from '../../support/memory-ports';
import {
  archivedEvents,
  archivedNumbers,
  expectNothingLost,
  makeMessage,
  makeMessages,
  ManualClock,
  onServer,
  sha256,
  type PollWorld,
} from '../../support/poll-fixtures';
import { pollBackends, type PollBackend } from '../../support/poll-backends';

const ACCOUNT_ID = 'acct-1';
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqOf = (bytes: Buffer) => Number(/X-Seq: (\d+)\r\n/.exec(bytes.toString('latin1'))?.[1]);
const totalSize = (messages: readonly Buffer[]) => messages.reduce((sum, m) => sum + m.length, 0);

/** An archive whose puts take a while, recording how many run at once and what they hold. */
class SlowArchive extends MemoryArchive {
  inFlight = 0;
  maxInFlight = 0;
  inFlightBytes = 0;
  maxInFlightBytes = 0;
  readonly observed: Array<{ size: number; spoolFiles: number }> = [];

  constructor(
    private readonly delayMs: number,
    private readonly spoolDir?: string,
  ) {
    super();
  }

  override async put(item: ArchiveItem): Promise<StoredObject> {
    this.inFlight += 1;
    this.inFlightBytes += item.size;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.maxInFlightBytes = Math.max(this.maxInFlightBytes, this.inFlightBytes);
    if (this.spoolDir) this.observed.push({ size: item.size, spoolFiles: readdirSync(this.spoolDir).length });
    try {
      await sleep(this.delayMs);
      return await super.put(item);
    } finally {
      this.inFlight -= 1;
      this.inFlightBytes -= item.size;
    }
  }
}

/**
 * The workflow's core suite, against each server of poll-backends.ts: the fake mailbox on every
 * machine, and a real Dovecot where it can run (always in CI, with REQUIRE_DOVECOT=1).
 */
describe.each(pollBackends())('Function: pollAccount (against $name)', (backend) => {
  let server: PollBackend;

  beforeAll(async () => {
    server = await backend.start();
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(() => server.empty());

  /** One mailbox's world across runs: the stores persist, each run opens a fresh session. */
  class Harness implements PollWorld {
    readonly server = server;
    readonly accountId = ACCOUNT_ID;
    archive: MemoryArchive = new MemoryArchive();
    readonly events = new MemoryEventSink();
    readonly seen = new MemorySeenStore();
    readonly progress: AccountProgress[] = [];
    withSeenStore = true;
    clock: Clock | undefined;
    /** The sessions of the current (or last) run. */
    sessions: SessionRecord[] = [];

    constructor(readonly account: AccountConfig = server.account(ACCOUNT_ID)) {}

    async run(options: Partial<PollOptions> = {}, faults: ClientFaults = {}): Promise<AccountResult> {
      const connector = new FaultyConnector(faults);
      // Live: a test's hooks can look at the session while the run is going on.
      this.sessions = connector.sessions;
      return pollAccount(
        this.account,
        {
          credentials: new StaticCredentials({ [ACCOUNT_ID]: { password: server.password } }),
          archive: this.archive,
          events: this.events,
          ...(this.withSeenStore ? { seen: this.seen } : {}),
          ...(this.clock ? { clock: this.clock } : {}),
          connect: connector.connect,
        },
        { runId: 'run', onProgress: (p) => this.progress.push(p), ...options },
      );
    }

    get session(): SessionRecord {
      expect(this.sessions).toHaveLength(1);
      return this.sessions[0]!;
    }

    /** The "Message Archived" event(s) for delivered message `bytes`. */
    eventsFor(bytes: Buffer): Array<PollEvent<MessageArchivedDetail>> {
      return archivedEvents(this.events).filter((e) => e.detail.sha256 === sha256(bytes));
    }

    /** Keys of successful puts that hit a key already written (should be none but re-fetches). */
    duplicatePuts(): string[] {
      const keys = this.archive.puts.filter((p) => p.ok).map((p) => p.key);
      return keys.filter((k, i) => keys.indexOf(k) !== i);
    }
  }

  function deliver(count: number, batch = 'b'): Buffer[] {
    const messages = makeMessages(count, { batch });
    server.deliver(messages);
    return messages;
  }

  /** UIDL of each message on the server, by the SHA-256 of its bytes (read in a separate session). */
  async function serverUidls(): Promise<Map<string, string>> {
    const client = await Pop3Client.connect(server.clientOptions());
    const out = new Map<string, string>();
    for (const { messageNumber, uid } of await client.uidl())
      out.set(sha256(await client.retrBuffer(messageNumber)), uid);
    await client.quit();
    return out;
  }

  // ---------------------------------------------------------------------------------------------

  describe('delete mode, nothing failing', () => {
    it('archives every message byte-exact, publishes one exact event each, and empties the mailbox', async () => {
      const delivered = deliver(10);
      const uidls = await serverUidls();
      const h = new Harness();

      const result = await h.run();

      expect(result).toStrictEqual({
        accountId: ACCOUNT_ID,
        status: 'ok',
        listed: 10,
        fetched: 10,
        archived: 10,
        alreadyArchived: 0,
        deleted: 10,
        failedMessages: 0,
        bytes: totalSize(delivered),
        durationMs: expect.any(Number) as unknown as number,
        remaining: 0,
        messageErrors: [],
      });
      expect(server.mailboxCount()).toBe(0);
      expect(h.archive.objects.size).toBe(10);
      expect(archivedEvents(h.events)).toHaveLength(10);
      for (const [i, bytes] of delivered.entries()) {
        const n = i + 1;
        const digest = sha256(bytes);
        const key = archiveKey(ACCOUNT_ID, digest);
        expect(key).toBe(`${ACCOUNT_ID}/${digest}.eml`);
        expect(h.archive.objects.get(key)?.equals(bytes)).toBe(true);
        const uidl = uidls.get(digest)!;
        const [event, ...more] = h.eventsFor(bytes);
        expect(more).toEqual([]);
        const id = stableEventId(ACCOUNT_ID, uidl, digest);
        expect(event).toStrictEqual({
          id,
          source: 'pop3-poller',
          detailType: 'Message Archived',
          time: expect.any(String) as unknown as string,
          detail: {
            eventId: id,
            accountId: ACCOUNT_ID,
            uidl,
            sha256: digest,
            size: bytes.length,
            location: `memory://${key}`,
            key,
            metadata: 'complete',
            subject: `Message ${n}`,
            from: { name: `Sender ${n}`, address: `sender${n}@example.org` },
            to: [{ name: 'Alice', address: 'alice@example.com' }],
            cc: [],
            date: '2025-03-04T10:00:00.000Z',
            messageId: `<${n}.b@poller.test>`,
            attachments: [],
            archivedAt: event!.time,
          },
        });
      }
      // Each message was retrieved once and marked once, and QUIT committed the marks.
      expect(h.session.retr).toEqual(range(1, 10));
      expect([...h.session.dele].sort((a, b) => a - b)).toEqual(range(1, 10));
      expect(h.session.quit).toBe('ok');
      expect(h.progress).toHaveLength(10);
      expect(h.progress.at(-1)).toEqual({
        accountId: ACCOUNT_ID,
        planned: 10,
        fetched: 10,
        archived: 10,
        bytes: totalSize(delivered),
      });
      expectNothingLost(h, delivered);
    });

    it('leaves an empty mailbox alone', async () => {
      const h = new Harness();
      const result = await h.run();
      expect(result).toMatchObject({ status: 'ok', listed: 0, fetched: 0, deleted: 0, remaining: 0 });
      expect(h.session.quit).toBe('ok');
      expect(h.events.events).toEqual([]);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('the archive fails', () => {
    it('keeps message k and everything not yet started on the server, deletes what was fully handled, and a second run drains the rest', async () => {
      const delivered = deliver(10);
      const h = new Harness();
      h.archive.failWhen = (_item, bytes) =>
        seqOf(bytes) === 4 ? new Error('S3 said 503 Slow Down') : undefined;

      // One message archived at a time and one RETR ahead, so the tail that was never started is
      // easy to see. Messages already requested when k fails are finished (and deleted).
      const first = await h.run({ storeConcurrency: 1, retrieveAhead: 1 });

      const requested = h.session.retr;
      // RETR 5 was requested before 4 started archiving; at most one more before 4's failure landed.
      expect(requested.length === 5 || requested.length === 6).toBe(true);
      expect(requested).toEqual(range(1, requested.length));
      const m = requested.length;
      const handled = requested.filter((n) => n !== 4);
      expect(first).toMatchObject({
        status: 'failed',
        listed: 10,
        fetched: m,
        archived: m - 1,
        deleted: m - 1,
        failedMessages: 1,
        remaining: 10 - (m - 1),
        stoppedBy: 'error',
        error: { code: 'EARCHIVE', retryable: true, needsAttention: false },
        messageErrors: [{ code: 'EARCHIVE', message: expect.stringContaining('503 Slow Down') as unknown }],
      });
      expect(h.session.quit).toBe('ok'); // the DELEs of the handled messages were committed
      expect(onServer(h, delivered)).toEqual([4, ...range(m + 1, 10)]);
      expect(archivedNumbers(h, delivered)).toEqual(handled);
      expect(h.eventsFor(delivered[3]!)).toEqual([]);
      expect(archivedEvents(h.events)).toHaveLength(m - 1);
      expectNothingLost(h, delivered);

      // The store is fixed: the next run drains the mailbox.
      h.archive.failWhen = () => undefined;
      const second = await h.run();
      expect(second).toMatchObject({
        status: 'ok',
        listed: 10 - (m - 1),
        fetched: 10 - (m - 1),
        archived: 10 - (m - 1),
        alreadyArchived: 0,
        deleted: 10 - (m - 1),
        remaining: 0,
      });
      expect(server.mailboxCount()).toBe(0);
      expect(h.archive.objects.size).toBe(10);
      expect(h.duplicatePuts()).toEqual([]);
      const ids = archivedEvents(h.events).map((e) => e.id);
      expect(new Set(ids).size).toBe(10);
      expectNothingLost(h, delivered);
    });

    it('fails with EINTEGRITY when the store reports other bytes than were received, and keeps that message', async () => {
      const delivered = deliver(4);
      const h = new Harness();
      h.archive.corruptWhen = (item) => item.key === archiveKey(ACCOUNT_ID, sha256(delivered[1]!));

      const first = await h.run({ storeConcurrency: 1, retrieveAhead: 1 });

      const m = h.session.retr.length;
      expect(first).toMatchObject({
        status: 'failed',
        fetched: m,
        archived: m - 1,
        deleted: m - 1,
        stoppedBy: 'error',
        error: { code: 'EINTEGRITY', retryable: true },
      });
      expect(onServer(h, delivered)).toEqual([2, ...range(m + 1, 4)]);
      expect(h.eventsFor(delivered[1]!)).toEqual([]);
      expectNothingLost(h, delivered);

      // The (fake) store did keep the bytes under the key: the next run finds them there.
      h.archive.corruptWhen = () => false;
      const second = await h.run();
      expect(second).toMatchObject({ status: 'ok', archived: 4 - (m - 1), alreadyArchived: 1, remaining: 0 });
      expect(server.mailboxCount()).toBe(0);
      expectNothingLost(h, delivered);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('publishing events fails', () => {
    it('keeps a message whose event was not published on the server, though archived; the re-run reuses object and event id', async () => {
      const delivered = deliver(6);
      const h = new Harness();
      const attempted: string[] = [];
      h.events.failWhen = (event) => {
        const detail = event.detail as MessageArchivedDetail;
        if (detail.subject !== 'Message 3') return false;
        attempted.push(event.id);
        return true;
      };

      const first = await h.run({ storeConcurrency: 1, retrieveAhead: 1 });

      const m = h.session.retr.length;
      expect(m).toBeGreaterThanOrEqual(4);
      expect(first).toMatchObject({
        status: 'failed',
        fetched: m,
        archived: m - 1,
        deleted: m - 1,
        error: { code: 'EEVENTS' },
      });
      expect(attempted).toHaveLength(1);
      // Archived (the put succeeded) but not announced, so not deleted.
      expect(archivedNumbers(h, delivered)).toEqual(range(1, m));
      expect(onServer(h, delivered)).toEqual([3, ...range(m + 1, 6)]);
      expectNothingLost(h, delivered);

      h.events.failWhen = () => false;
      const second = await h.run();
      expect(second).toMatchObject({ status: 'ok', alreadyArchived: 1, remaining: 0 });
      expect(server.mailboxCount()).toBe(0);
      expect(h.eventsFor(delivered[2]!).map((e) => e.id)).toEqual(attempted);
      expect(h.archive.objects.size).toBe(6);
      expect(h.duplicatePuts()).toEqual([archiveKey(ACCOUNT_ID, sha256(delivered[2]!))]);
      expectNothingLost(h, delivered);
    });

    it('deletes nothing when every publish call rejects', async () => {
      const delivered = deliver(6);
      const h = new Harness();
      h.events.rejectWith = new Error('EventBridge throttled');

      const first = await h.run();

      expect(first).toMatchObject({
        status: 'failed',
        archived: 0,
        deleted: 0,
        remaining: 6,
        error: { code: 'EEVENTS', message: expect.stringContaining('EventBridge throttled') as unknown },
      });
      expect(onServer(h, delivered)).toEqual(range(1, 6));
      expect(h.events.events).toEqual([]);
      expect(h.session.dele).toEqual([]);
      expectNothingLost(h, delivered);

      h.events.rejectWith = undefined;
      const stored = h.archive.objects.size;
      const second = await h.run();
      expect(second).toMatchObject({ status: 'ok', archived: 6, alreadyArchived: stored, deleted: 6 });
      expect(server.mailboxCount()).toBe(0);
      expectNothingLost(h, delivered);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('the POP3 side fails', () => {
    it('leaves a message whose DELE was refused on the server; the next run handles it idempotently', async () => {
      const delivered = deliver(5);
      const h = new Harness();
      const dele3 = new Pop3Error('ECOMMAND', 'DELE failed: -ERR injected', { command: 'DELE' });

      const first = await h.run({}, { dele: (n) => (n === 3 ? dele3 : undefined) });

      expect(first).toMatchObject({
        status: 'ok',
        listed: 5,
        archived: 5,
        deleted: 4,
        remaining: 1,
        failedMessages: 0,
      });
      expect(h.session.deleFailed).toEqual([3]);
      expect(onServer(h, delivered)).toEqual([3]);
      expectNothingLost(h, delivered);
      const [firstEvent] = h.eventsFor(delivered[2]!);

      const second = await h.run();
      expect(second).toMatchObject({
        status: 'ok',
        listed: 1,
        fetched: 1,
        archived: 1,
        alreadyArchived: 1,
        deleted: 1,
        remaining: 0,
      });
      expect(server.mailboxCount()).toBe(0);
      expect(h.eventsFor(delivered[2]!).map((e) => e.id)).toEqual([firstEvent!.id, firstEvent!.id]);
      expect(h.archive.objects.size).toBe(5);
      expectNothingLost(h, delivered);
    });

    it('deletes nothing when the connection drops right after a RETR; archived messages are idempotent next run', async () => {
      const delivered = deliver(10);
      const h = new Harness();

      const first = await h.run(
        { retrieveAhead: 1 },
        { afterRetr: (n, session) => (n === 5 ? session.dropConnection() : undefined) },
      );

      expect(first).toMatchObject({
        status: 'failed',
        listed: 10,
        fetched: 5,
        archived: 5,
        deleted: 0,
        remaining: 10,
        stoppedBy: 'error',
        error: { code: 'ECONNECTION', retryable: true },
      });
      expect(h.session.dropped).toBe(true);
      expect(h.session.retrCompleted).toEqual(range(1, 5));
      expect(h.session.quit).toBe('not sent');
      expect(onServer(h, delivered)).toEqual(range(1, 10));
      expect(archivedNumbers(h, delivered)).toEqual(range(1, 5));
      const firstIds = delivered.slice(0, 5).map((m) => h.eventsFor(m).map((e) => e.id));
      expect(firstIds.every((ids) => ids.length === 1)).toBe(true);
      expectNothingLost(h, delivered);

      const second = await h.run();
      expect(second).toMatchObject({
        status: 'ok',
        fetched: 10,
        archived: 10,
        alreadyArchived: 5,
        deleted: 10,
        remaining: 0,
      });
      expect(server.mailboxCount()).toBe(0);
      expect(h.archive.objects.size).toBe(10);
      // Re-fetched messages got the same event ids as before.
      for (const [i, ids] of firstIds.entries())
        expect(h.eventsFor(delivered[i]!).map((e) => e.id)).toEqual([ids[0], ids[0]]);
      expectNothingLost(h, delivered);
    });

    it('loses nothing when the connection drops mid-run with RETRs pipelined far ahead', async () => {
      // Default pipelining: replies already received before the drop are still consumed and
      // archived, the rest fail; which ones is up to timing, so this checks the promise only.
      const delivered = deliver(20);
      const h = new Harness();

      const first = await h.run({}, { afterRetr: (n, s) => (n === 5 ? s.dropConnection() : undefined) });

      expect(first).toMatchObject({
        status: 'failed',
        deleted: 0,
        remaining: 20,
        error: { code: 'ECONNECTION' },
      });
      expect(first.fetched).toBeGreaterThanOrEqual(5);
      expect(first.fetched).toBeLessThan(20);
      expect(onServer(h, delivered)).toEqual(range(1, 20));
      expect(archivedNumbers(h, delivered)).toEqual(range(1, first.archived));
      expectNothingLost(h, delivered);

      const second = await h.run();
      expect(second).toMatchObject({ status: 'ok', deleted: 20, alreadyArchived: first.archived });
      expect(server.mailboxCount()).toBe(0);
      for (const m of delivered) expect(new Set(h.eventsFor(m).map((e) => e.id)).size).toBe(1);
      expectNothingLost(h, delivered);
    });

    it('removes nothing when the connection drops after DELEs were accepted (DELE without QUIT)', async () => {
      const delivered = deliver(6);
      const h = new Harness();

      const first = await h.run(
        { storeConcurrency: 1, retrieveAhead: 1 },
        { afterDele: (n, session) => (n === 3 ? session.dropConnection() : undefined) },
      );

      // The drop comes right after DELE 3's +OK is handled; a DELE pipelined behind it whose +OK
      // arrived in the same read is accepted too (the workflow no longer lingers before publishing,
      // so DELE 4 can follow DELE 3 within a millisecond). Either way nothing is committed.
      expect(h.session.dele.slice(0, 3)).toEqual([1, 2, 3]);
      expect(first).toMatchObject({ status: 'failed', deleted: 0, error: { code: 'ECONNECTION' } });
      expect(onServer(h, delivered)).toEqual(range(1, 6));
      expectNothingLost(h, delivered);

      const second = await h.run();
      expect(second).toMatchObject({ status: 'ok', deleted: 6, alreadyArchived: first.archived });
      expect(server.mailboxCount()).toBe(0);
      expectNothingLost(h, delivered);
    });

    it.each([
      ['QUIT cannot be sent', 'reject' as const],
      ['the connection drops just before QUIT', 'drop' as const],
    ])('deletes nothing and reports deleted 0 when %s', async (_case, quit) => {
      const delivered = deliver(5);
      const h = new Harness();

      const first = await h.run({}, { quit });

      expect(first).toMatchObject({
        status: 'failed',
        listed: 5,
        fetched: 5,
        archived: 5,
        deleted: 0,
        remaining: 5,
        error: { code: 'ECONNECTION' },
      });
      expect(first).not.toHaveProperty('stoppedBy', 'deadline');
      // Marked (or on their way: QUIT follows the last DELE without waiting for the DELE replies,
      // so the failure can come before they are read), never committed.
      expect([...h.session.dele, ...h.session.deleFailed].sort()).toEqual(range(1, 5));
      expect(h.session.quit).toBe('failed');
      expect(onServer(h, delivered)).toEqual(range(1, 5));
      expectNothingLost(h, delivered);

      const second = await h.run();
      expect(second).toMatchObject({ status: 'ok', alreadyArchived: 5, deleted: 5 });
      expect(server.mailboxCount()).toBe(0);
      for (const m of delivered) expect(new Set(h.eventsFor(m).map((e) => e.id)).size).toBe(1);
      expectNothingLost(h, delivered);
    });

    it('leaves a message larger than maxMessageBytes on the server and handles the others', async () => {
      const delivered = [
        makeMessage(1),
        makeMessage(2),
        makeMessage(3, { bodyBytes: 64 * 1024 }),
        makeMessage(4),
        makeMessage(5),
      ];
      server.deliver(delivered);
      const h = new Harness();

      const result = await h.run({ maxMessageBytes: 16 * 1024 });

      expect(result).toMatchObject({
        status: 'partial',
        listed: 5,
        fetched: 4,
        archived: 4,
        deleted: 4,
        failedMessages: 1,
        remaining: 1,
        messageErrors: [{ code: 'ELIMIT', retryable: false, needsAttention: true }],
      });
      expect(result.error).toBeUndefined();
      expect(onServer(h, delivered)).toEqual([3]);
      expect(archivedNumbers(h, delivered)).toEqual([1, 2, 4, 5]);
      expectNothingLost(h, delivered);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('bounds', () => {
    /** Stopped as RETR 4 went out: 1–4 were in flight and are committed, 5–10 never started. */
    function expectFourOfTenCommitted(
      h: Harness,
      delivered: Buffer[],
      result: AccountResult,
      stoppedBy: AccountResult['stoppedBy'],
    ): void {
      expect(h.session.retr).toEqual([1, 2, 3, 4]);
      expect(result).toMatchObject({
        status: 'ok',
        listed: 10,
        fetched: 4,
        archived: 4,
        deleted: 4,
        remaining: 6,
        stoppedBy,
      });
      expect(h.session.quit).toBe('ok');
      expect(onServer(h, delivered)).toEqual(range(5, 10));
      expectNothingLost(h, delivered);
    }

    it('fetches nothing when the deadline has already passed, and QUITs cleanly', async () => {
      const delivered = deliver(3);
      const h = new Harness();
      const result = await h.run({ deadline: new Date(Date.now() - 1000) });
      expect(result).toMatchObject({
        status: 'ok',
        listed: 3,
        fetched: 0,
        deleted: 0,
        remaining: 3,
        stoppedBy: 'deadline',
      });
      expect(h.session.retr).toEqual([]);
      expect(h.session.quit).toBe('ok');
      expect(onServer(h, delivered)).toEqual([1, 2, 3]);
    });

    it('stops requesting at the deadline, finishes what is in flight, commits it, and a later run continues', async () => {
      const delivered = deliver(10);
      const h = new Harness();
      const clock = new ManualClock('2025-03-04T12:00:00Z');
      h.clock = clock;
      const deadline = new Date('2025-03-04T12:05:00Z');

      // Time passes the deadline as RETR 4 goes out: 1–4 are in flight, 5–10 must not start.
      const first = await h.run(
        { deadline },
        { beforeRetr: (n) => (n === 4 ? clock.set('2025-03-04T12:05:01Z') : undefined) },
      );

      expectFourOfTenCommitted(h, delivered, first, 'deadline');

      const second = await h.run({ deadline: new Date('2025-03-04T13:00:00Z') });
      expect(second).toMatchObject({ status: 'ok', listed: 6, fetched: 6, deleted: 6, remaining: 0 });
      expect(second.stoppedBy).toBeUndefined();
      expect(server.mailboxCount()).toBe(0);
      expectNothingLost(h, delivered);
    });

    it('a graceful stop finishes what is in flight, commits it, and a later run continues', async () => {
      const delivered = deliver(10);
      const h = new Harness();
      const stop = new AbortController();

      // Asked to stop as RETR 4 goes out: 1–4 are in flight, 5–10 must not start.
      const first = await h.run(
        { stop: stop.signal },
        { beforeRetr: (n) => (n === 4 ? stop.abort() : undefined) },
      );

      expectFourOfTenCommitted(h, delivered, first, 'stopped');

      const second = await h.run();
      expect(second).toMatchObject({ status: 'ok', fetched: 6, deleted: 6, remaining: 0 });
      expectNothingLost(h, delivered);
    });

    it('asked to stop before it began, an account is skipped without a login', async () => {
      const delivered = deliver(2);
      const h = new Harness();
      const result = await h.run({ stop: AbortSignal.abort() });
      expect(result).toMatchObject({
        status: 'skipped',
        listed: 0,
        fetched: 0,
        error: { code: 'ESTOPPED', retryable: true, needsAttention: false },
      });
      expect(h.sessions).toEqual([]);
      expect(onServer(h, delivered)).toEqual([1, 2]);
    });

    it('takes at most maxMessages per run, and the following runs continue', async () => {
      const delivered = deliver(10);
      const h = new Harness();
      const counts: Array<[number, number, number]> = [];
      for (let run = 0; run < 3; run++) {
        const result = await h.run({ maxMessages: 4 });
        counts.push([result.listed, result.deleted, result.remaining]);
        expect(result.stoppedBy).toBe(run < 2 ? 'maxMessages' : undefined);
        expectNothingLost(h, delivered);
        if (run === 0) expect(onServer(h, delivered)).toEqual(range(5, 10));
      }
      expect(counts).toEqual([
        [10, 4, 6],
        [6, 4, 2],
        [2, 2, 0],
      ]);
      expect(server.mailboxCount()).toBe(0);
    });

    it("prefers the account's own maxMessages to the run's", async () => {
      const delivered = deliver(5);
      const h = new Harness(server.account(ACCOUNT_ID, { maxMessages: 2 }));
      const result = await h.run({ maxMessages: 4 });
      expect(result).toMatchObject({ fetched: 2, deleted: 2, remaining: 3, stoppedBy: 'maxMessages' });
      expect(onServer(h, delivered)).toEqual([3, 4, 5]);
    });

    it('takes messages up to maxBytes by the LIST sizes, and always at least one', async () => {
      const delivered = deliver(6);
      const h = new Harness();
      const budget = totalSize(delivered.slice(0, 3));

      const first = await h.run({ maxBytes: budget });
      expect(first).toMatchObject({
        fetched: 3,
        bytes: budget,
        deleted: 3,
        remaining: 3,
        stoppedBy: 'maxBytes',
      });
      expect(onServer(h, delivered)).toEqual([4, 5, 6]);

      // A budget smaller than one message still makes progress.
      const second = await h.run({ maxBytes: 10 });
      expect(second).toMatchObject({ fetched: 1, deleted: 1, remaining: 2, stoppedBy: 'maxBytes' });
      expect(onServer(h, delivered)).toEqual([5, 6]);

      const third = await h.run({ maxBytes: budget });
      expect(third).toMatchObject({ fetched: 2, deleted: 2, remaining: 0 });
      expect(third.stoppedBy).toBeUndefined();
      expectNothingLost(h, delivered);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('keep mode', () => {
    const keepAccount = (extra: Partial<AccountConfig> = {}) =>
      server.account(ACCOUNT_ID, { mode: 'keep', ...extra });

    it('deletes nothing, archives only what it has not archived before, and picks up new mail', async () => {
      const firstBatch = deliver(5, 'one');
      const h = new Harness(keepAccount());

      const first = await h.run();
      expect(first).toMatchObject({ status: 'ok', listed: 5, archived: 5, deleted: 0, remaining: 0 });
      expect(h.session.dele).toEqual([]);
      expect(onServer(h, firstBatch)).toEqual(range(1, 5));
      expect(archivedNumbers(h, firstBatch)).toEqual(range(1, 5));
      expect(h.seen.entries.get(ACCOUNT_ID)?.size).toBe(5);

      const second = await h.run();
      expect(second).toMatchObject({ status: 'ok', listed: 0, fetched: 0, archived: 0, remaining: 0 });
      expect(h.session.retr).toEqual([]);
      expect(archivedEvents(h.events)).toHaveLength(5);
      expect(h.archive.puts).toHaveLength(5);

      const secondBatch = makeMessages(2, { batch: 'two' });
      server.deliver(secondBatch);
      const third = await h.run();
      expect(third).toMatchObject({ status: 'ok', listed: 2, fetched: 2, archived: 2, deleted: 0 });
      expect(h.session.retr).toEqual([6, 7]);
      expect(archivedEvents(h.events)).toHaveLength(7);
      expect(h.eventsFor(secondBatch[0]!)).toHaveLength(1);
      expect(server.mailboxCount()).toBe(7);
      expectNothingLost(h, [...firstBatch, ...secondBatch]);
    });

    it('with deleteAfterDays, deletes exactly the messages archived at least that many days ago', async () => {
      const clock = new ManualClock('2025-03-01T00:00:00Z');
      const h = new Harness(keepAccount({ deleteAfterDays: 7 }));
      h.clock = clock;
      const old = deliver(3, 'old');
      expect(await h.run()).toMatchObject({ archived: 3, deleted: 0 });

      clock.advanceDays(5);
      const recent = makeMessages(2, { batch: 'recent' });
      server.deliver(recent);
      expect(await h.run()).toMatchObject({ archived: 2, deleted: 0 });
      expect(server.mailboxCount()).toBe(5);

      clock.advanceDays(2); // the old ones were archived exactly 7 days ago, the recent ones 2
      const third = await h.run();
      expect(third).toMatchObject({ status: 'ok', listed: 0, archived: 0, deleted: 3, remaining: 0 });
      expect(onServer(h, [...old, ...recent])).toEqual([4, 5]);
      // The deleted UIDLs are forgotten; the kept ones are still remembered.
      expect(h.seen.entries.get(ACCOUNT_ID)?.size).toBe(2);
      expectNothingLost(h, [...old, ...recent]);

      const fourth = await h.run();
      expect(fourth).toMatchObject({ listed: 0, archived: 0, deleted: 0 });
      expect(server.mailboxCount()).toBe(2);
    });

    it('refuses to run without a seen-UIDL store (ECONFIG), touching nothing', async () => {
      const delivered = deliver(2);
      const h = new Harness(keepAccount());
      h.withSeenStore = false;
      const result = await h.run();
      expect(result).toMatchObject({
        status: 'failed',
        fetched: 0,
        deleted: 0,
        error: { code: 'ECONFIG', retryable: false, needsAttention: true },
      });
      expect(h.session.retr).toEqual([]);
      expect(onServer(h, delivered)).toEqual([1, 2]);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('overlap and memory', () => {
    it('archives at most storeConcurrency messages at once, while retrieval runs ahead', async () => {
      const delivered = deliver(10);
      const h = new Harness();
      const archive = new SlowArchive(20);
      h.archive = archive;
      let retrsAtFirstPut = 0;
      const put = archive.put.bind(archive);
      archive.put = (item) => {
        if (archive.puts.length === 0 && archive.inFlight === 0) retrsAtFirstPut = h.sessions[0]!.retr.length;
        return put(item);
      };

      const started = performance.now();
      const result = await h.run({ storeConcurrency: 2 });
      const elapsed = performance.now() - started;

      expect(result).toMatchObject({ status: 'ok', archived: 10, deleted: 10 });
      expect(archive.maxInFlight).toBe(2);
      // Ten 20 ms puts, two at a time, take at least five rounds.
      expect(elapsed).toBeGreaterThanOrEqual(5 * 20);
      // Retrieval did not wait for archiving: RETRs were pipelined ahead of the first put.
      expect(retrsAtFirstPut).toBeGreaterThanOrEqual(3);
      expect(server.mailboxCount()).toBe(0);
      expectNothingLost(h, delivered);
    });

    it('holds no more message bytes in memory than memoryBudgetBytes across messages being archived', async () => {
      const delivered = deliver(8); // ~1 KB each
      const h = new Harness();
      const archive = new SlowArchive(20);
      h.archive = archive;
      const one = delivered[0]!.length;

      const result = await h.run({ storeConcurrency: 8, memoryBudgetBytes: 2 * one + one / 2 });

      expect(result).toMatchObject({ status: 'ok', archived: 8, deleted: 8 });
      expect(archive.maxInFlight).toBe(2);
      expect(archive.maxInFlightBytes).toBeLessThanOrEqual(2 * one + one / 2);
      expectNothingLost(h, delivered);
    });

    it('spools messages over spoolMemoryLimitBytes to files in spoolDir and removes them afterwards', async () => {
      const spoolDir = mkdtempSync(join(tmpdir(), 'poll-spool-'));
      try {
        const delivered = [
          makeMessage(1, { bodyBytes: 300 * 1024 }),
          makeMessage(2),
          makeMessage(3, { bodyBytes: 200 * 1024 }),
          makeMessage(4),
          makeMessage(5, { bodyBytes: 250 * 1024 }),
        ];
        server.deliver(delivered);
        const h = new Harness();
        const archive = new SlowArchive(5, spoolDir);
        h.archive = archive;

        const result = await h.run({ spoolMemoryLimitBytes: 16 * 1024, spoolDir, storeConcurrency: 1 });

        expect(result).toMatchObject({ status: 'ok', archived: 5, deleted: 5, bytes: totalSize(delivered) });
        // With one put at a time, a large message's put sees its own spool file (and possibly the
        // next large one's, already being received); a small one's sees none of its own.
        const bySize = new Map(archive.observed.map((o) => [o.size, o.spoolFiles]));
        for (const large of [delivered[0]!, delivered[2]!, delivered[4]!])
          expect(bySize.get(large.length)).toBeGreaterThanOrEqual(1);
        expect(readdirSync(spoolDir)).toEqual([]);
        // Spooled to a file: the event has header metadata only; small ones are parsed whole.
        expect(h.eventsFor(delivered[0]!)[0]!.detail).toMatchObject({
          metadata: 'headers',
          subject: 'Message 1',
        });
        expect(h.eventsFor(delivered[1]!)[0]!.detail).toMatchObject({
          metadata: 'complete',
          attachments: [],
        });
        expectNothingLost(h, delivered);
      } finally {
        rmSync(spoolDir, { recursive: true, force: true });
      }
    });

    it('leaves a message it cannot spool on the server and handles the others (status partial)', async () => {
      const missingDir = join(tmpdir(), `poll-spool-missing-${process.pid}`);
      const delivered = [makeMessage(1), makeMessage(2, { bodyBytes: 64 * 1024 }), makeMessage(3)];
      server.deliver(delivered);
      const h = new Harness();

      const result = await h.run({ spoolMemoryLimitBytes: 16 * 1024, spoolDir: missingDir });

      expect(result).toMatchObject({
        status: 'partial',
        fetched: 2,
        archived: 2,
        deleted: 2,
        failedMessages: 1,
        remaining: 1,
        messageErrors: [{ message: expect.stringContaining('ENOENT') as unknown }],
      });
      expect(onServer(h, delivered)).toEqual([2]);
      expectNothingLost(h, delivered);
    });

    it('removes spool files when the connection drops mid-run', async () => {
      const spoolDir = mkdtempSync(join(tmpdir(), 'poll-spool-'));
      try {
        const delivered = Array.from({ length: 4 }, (_, i) => makeMessage(i + 1, { bodyBytes: 100 * 1024 }));
        server.deliver(delivered);
        const h = new Harness();
        h.archive = new SlowArchive(10);

        const result = await h.run(
          { spoolMemoryLimitBytes: 8 * 1024, spoolDir },
          { afterRetr: (n, session) => (n === 2 ? session.dropConnection() : undefined) },
        );

        expect(result).toMatchObject({ status: 'failed', deleted: 0, error: { code: 'ECONNECTION' } });
        expect(readdirSync(spoolDir)).toEqual([]);
        expect(onServer(h, delivered)).toEqual([1, 2, 3, 4]);
        expectNothingLost(h, delivered);
      } finally {
        rmSync(spoolDir, { recursive: true, force: true });
      }
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('metadata never blocks archiving', () => {
    it('archives and deletes mail the metadata parser rejects or cannot make sense of', async () => {
      let nested = 'Subject: matryoshka\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n';
      for (let i = 1; i < 300; i++)
        nested += `--b${i - 1}\r\nContent-Type: multipart/mixed; boundary="b${i}"\r\n\r\n`;
      const delivered = [
        makeMessage(1),
        Buffer.from(nested, 'latin1'), // the parser throws (nesting depth)
        Buffer.concat([
          Buffer.from([0x01, 0xfe, 0xff]),
          Buffer.from(
            ' no colon here\r\n: no name\r\nSubject\r\nX-Bin: \x00\x7f\x80\r\n\r\nbody\r\n',
            'latin1',
          ),
        ]), // a header block of garbage
        Buffer.from('no header section at all\r\n', 'latin1'),
      ];
      server.deliver(delivered);
      const h = new Harness();

      const result = await h.run();

      expect(result).toMatchObject({ status: 'ok', archived: 4, deleted: 4, failedMessages: 0 });
      expect(server.mailboxCount()).toBe(0);
      expect(h.eventsFor(delivered[0]!)[0]!.detail.metadata).toBe('complete');
      expect(h.eventsFor(delivered[1]!)[0]!.detail).toMatchObject({
        metadata: 'unavailable',
        metadataError: expect.stringMatching(/nesting depth/) as unknown,
        subject: null,
      });
      expect(h.eventsFor(delivered[2]!)[0]!.detail).toMatchObject({ subject: null, from: null });
      expect(h.eventsFor(delivered[3]!)[0]!.detail).toMatchObject({ subject: null, messageId: null });
      expectNothingLost(h, delivered);
    });
  });
});
