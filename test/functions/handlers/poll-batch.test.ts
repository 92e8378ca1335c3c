import type { BatchJob, PollJob } from '../../../functions/handlers/contract';
import type { JobQueue, NotEnqueued, QueuedJob } from '../../../functions/jobs/ports';
import {
  accountFor,
  LAST_POLL_REFRESH_MS,
  lastPollFor,
  pollBatch,
  wantsSummary,
  type BatchDeps,
  type BatchOutcome,
  type BatchRun,
  type BatchSecrets,
  type BatchSettings,
} from '../../../functions/handlers/poll-batch';
import type { AccountSecret } from '../../../functions/poller/account';
import { archiveKey } from '../../../functions/poller/archive-key';
import { stableEventId, type PollEvent, type PollSummaryDetail } from '../../../functions/poller/events';
import type { AccountResult } from '../../../functions/poller/poll-account';
import type { CredentialSource } from '../../../functions/poller/ports';
import { Pop3Client, type Pop3ClientOptions } from '../../../functions/pop3';
import type { LastPollWriter } from '../../../functions/registry/ports';
import type { LastPoll } from '../../../functions/registry/record';
import { DovecotServer } from '../../support/dovecot';
import { MemoryArchive, MemoryEventSink, MemorySeenStore } from '../../support/memory-ports';
import {
  archivedEvents,
  expectNothingLost,
  makeMessages,
  ManualClock,
  onServer,
  sha256,
} from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';
import { describeWithDovecot } from '../../support/with-dovecot';

// ---------------------------------------------------------------------------------------------
// Pure functions

const NOW = new Date('2025-03-04T12:00:00.000Z');
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();

function result(overrides: Partial<AccountResult> = {}): AccountResult {
  return {
    accountId: 'box',
    status: 'ok',
    listed: 0,
    fetched: 0,
    archived: 0,
    alreadyArchived: 0,
    deleted: 0,
    failedMessages: 0,
    bytes: 0,
    durationMs: 12,
    remaining: 0,
    messageErrors: [],
    ...overrides,
  };
}

const failure = (code: string, message = `${code} happened`) => ({
  code,
  message,
  retryable: false,
  needsAttention: code === 'EAUTH',
});

const pollJob = (last?: PollJob['last']): PollJob => ({
  accountId: 'box',
  secretId: 'pop3/box',
  ...(last ? { last } : {}),
});

describe('Function: wantsSummary', () => {
  const unchanged = pollJob({ status: 'ok', at: minutesAgo(5) });

  it("'none' never asks for a summary, not even for a failure or archived mail", () => {
    expect(wantsSummary('none', unchanged, result({ status: 'failed', error: failure('EAUTH') }))).toBe(
      false,
    );
    expect(wantsSummary('none', unchanged, result({ archived: 3 }))).toBe(false);
    expect(wantsSummary('none', pollJob(), result())).toBe(false);
  });

  it("'all' always asks for one, even for an empty poll that matches the last one", () => {
    expect(wantsSummary('all', unchanged, result())).toBe(true);
  });

  describe("'changes'", () => {
    it('says nothing for an empty, healthy poll whose outcome matches the last one', () => {
      expect(wantsSummary('changes', unchanged, result())).toBe(false);
      // The same skip as last time (same status, same code) is no news either.
      const skipped = pollJob({ status: 'skipped', code: 'EIN_USE', at: minutesAgo(5) });
      expect(wantsSummary('changes', skipped, result({ status: 'skipped', error: failure('EIN_USE') }))).toBe(
        false,
      );
    });

    it('speaks when mail was archived, even with the outcome unchanged', () => {
      expect(wantsSummary('changes', unchanged, result({ archived: 1 }))).toBe(true);
    });

    it('speaks for every failed poll, even the same failure as last time', () => {
      const failedBefore = pollJob({ status: 'failed', code: 'EAUTH', at: minutesAgo(5) });
      expect(
        wantsSummary('changes', failedBefore, result({ status: 'failed', error: failure('EAUTH') })),
      ).toBe(true);
    });

    it('speaks when the status changed', () => {
      expect(wantsSummary('changes', unchanged, result({ status: 'partial' }))).toBe(true);
      const failedBefore = pollJob({ status: 'failed', code: 'ETIMEDOUT', at: minutesAgo(5) });
      expect(wantsSummary('changes', failedBefore, result())).toBe(true);
    });

    it('speaks when only the code changed', () => {
      const skipped = pollJob({ status: 'skipped', code: 'EIN_USE', at: minutesAgo(5) });
      expect(
        wantsSummary('changes', skipped, result({ status: 'skipped', error: failure('ELOGIN_DELAY') })),
      ).toBe(true);
    });

    it('speaks at the first poll, when there is no last one', () => {
      expect(wantsSummary('changes', pollJob(), result())).toBe(true);
    });
  });
});

describe('Function: lastPollFor', () => {
  it('writes nothing when the outcome is unchanged, nothing was archived and the record is fresh', () => {
    expect(lastPollFor(pollJob({ status: 'ok', at: minutesAgo(60) }), result(), NOW)).toBeUndefined();
    // An unchanged failure does not rewrite the record either (its summary event still goes out).
    const failedBefore = pollJob({ status: 'failed', code: 'EAUTH', at: minutesAgo(60) });
    expect(
      lastPollFor(failedBefore, result({ status: 'failed', error: failure('EAUTH') }), NOW),
    ).toBeUndefined();
  });

  it('writes when the status changed, with the code and message, carrying lastArchivedAt over', () => {
    const job = pollJob({ status: 'ok', at: minutesAgo(5), lastArchivedAt: '2025-03-01T08:00:00.000Z' });
    const record = lastPollFor(
      job,
      result({ status: 'failed', error: failure('EAUTH', '-ERR [AUTH] Authentication failed.') }),
      NOW,
    );
    expect(record).toStrictEqual({
      at: NOW.toISOString(),
      status: 'failed',
      code: 'EAUTH',
      message: '-ERR [AUTH] Authentication failed.',
      lastArchivedAt: '2025-03-01T08:00:00.000Z',
    });
  });

  it('writes when only the code changed', () => {
    const job = pollJob({ status: 'failed', code: 'ETIMEDOUT', at: minutesAgo(5) });
    expect(lastPollFor(job, result({ status: 'failed', error: failure('EAUTH') }), NOW)).toStrictEqual({
      at: NOW.toISOString(),
      status: 'failed',
      code: 'EAUTH',
      message: 'EAUTH happened',
    });
  });

  it('writes when mail was archived, with the count and lastArchivedAt set to now', () => {
    const job = pollJob({ status: 'ok', at: minutesAgo(5), lastArchivedAt: '2025-03-01T08:00:00.000Z' });
    expect(lastPollFor(job, result({ archived: 3 }), NOW)).toStrictEqual({
      at: NOW.toISOString(),
      status: 'ok',
      archived: 3,
      lastArchivedAt: NOW.toISOString(),
    });
  });

  it('refreshes a record that is a day old, and not one a millisecond younger', () => {
    const at = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
    const dayOld = pollJob({
      status: 'ok',
      at: at(LAST_POLL_REFRESH_MS),
      lastArchivedAt: '2025-02-01T00:00:00Z',
    });
    expect(LAST_POLL_REFRESH_MS).toBe(86_400_000);
    expect(lastPollFor(dayOld, result(), NOW)).toStrictEqual({
      at: NOW.toISOString(),
      status: 'ok',
      lastArchivedAt: '2025-02-01T00:00:00Z',
    });
    const younger = pollJob({ status: 'ok', at: at(LAST_POLL_REFRESH_MS - 1) });
    expect(lastPollFor(younger, result(), NOW)).toBeUndefined();
  });

  it('writes when the stored time cannot be parsed', () => {
    const job = pollJob({ status: 'ok', at: 'yesterday-ish' });
    expect(lastPollFor(job, result(), NOW)).toStrictEqual({ at: NOW.toISOString(), status: 'ok' });
  });

  it('writes at the first poll, without a lastArchivedAt when nothing was ever archived', () => {
    expect(lastPollFor(pollJob(), result(), NOW)).toStrictEqual({ at: NOW.toISOString(), status: 'ok' });
  });

  it('keeps at most 500 characters of the error message', () => {
    const long = `${'a'.repeat(499)}Z${'b'.repeat(300)}`;
    const record = lastPollFor(
      pollJob(),
      result({ status: 'failed', error: failure('EPROTOCOL', long) }),
      NOW,
    );
    expect(record!.message).toHaveLength(500);
    expect(record!.message).toBe(long.slice(0, 500));
    expect(record!.message!.endsWith('aZ')).toBe(true);
  });
});

describe('Function: accountFor', () => {
  it("maps every connection and bound field of the job, and the batch's CA", () => {
    const job: PollJob = {
      accountId: 'support',
      secretId: 'pop3/shared',
      secretKey: 'support@example.com',
      provider: 'outlook',
      mode: 'keep',
      deleteAfterDays: 30,
      maxMessages: 100,
      maxBytes: 5_000_000,
      followUp: 2,
      host: 'pop.example.com',
      port: 1995,
      tls: 'starttls',
      username: 'support@example.com',
      authMethod: 'CRAM-MD5',
      certificateSha256: 'ab'.repeat(32),
      last: { status: 'ok', at: NOW.toISOString() },
    };
    // The job's bookkeeping (secret, follow-up count, last poll) is not the workflow's business.
    expect(accountFor(job, '-----BEGIN CERTIFICATE-----\n…')).toStrictEqual({
      id: 'support',
      provider: 'outlook',
      host: 'pop.example.com',
      port: 1995,
      tls: 'starttls',
      username: 'support@example.com',
      authMethod: 'CRAM-MD5',
      certificateSha256: 'ab'.repeat(32),
      mode: 'keep',
      deleteAfterDays: 30,
      maxMessages: 100,
      maxBytes: 5_000_000,
      caPem: '-----BEGIN CERTIFICATE-----\n…',
    });
  });

  it('leaves unset fields unset, so the secret and the workflow defaults decide', () => {
    const account = accountFor({ accountId: 'bare', secretId: 'pop3/bare' }, undefined);
    expect(account).toStrictEqual({ id: 'bare' });
    // Not even present as undefined: `mode` unset is what lets Gmail `recent:` logins force keep.
    expect(Object.keys(account)).toEqual(['id']);
  });
});

// ---------------------------------------------------------------------------------------------
// In-memory ports of the batch

/** The FIFO job queue: records every enqueue call; `refuse` turns jobs away as SQS would. */
class MemoryJobQueue implements JobQueue {
  readonly calls: QueuedJob[][] = [];
  refuse: ((job: QueuedJob) => Omit<NotEnqueued, 'job'> | undefined) | undefined;

  async enqueue(jobs: readonly QueuedJob[]): Promise<NotEnqueued[]> {
    this.calls.push([...jobs]);
    const refused: NotEnqueued[] = [];
    for (const job of jobs) {
      const why = this.refuse?.(job);
      if (why) refused.push({ job, ...why });
    }
    return refused;
  }

  async delayRedelivery(): Promise<void> {
    throw new Error('pollBatch never delays a redelivery');
  }

  get sent(): QueuedJob[] {
    return this.calls.flat();
  }
}

/** The registry's last-poll records; `failFor` makes writes for those mailboxes throw. */
class MemoryLastPolls implements LastPollWriter {
  readonly writes: Array<{ id: string; lastPoll: LastPoll }> = [];
  readonly failFor = new Set<string>();

  async writeLastPoll(id: string, lastPoll: LastPoll): Promise<void> {
    if (this.failFor.has(id)) throw new Error('ProvisionedThroughputExceededException (injected)');
    this.writes.push({ id, lastPoll });
  }

  of(id: string): LastPoll | undefined {
    return this.writes.find((w) => w.id === id)?.lastPoll;
  }
}

/**
 * Secrets as the worker holds them: a warm cache in front of the secret store. `rotate` changes a
 * password in the store while the cache still holds the old one from an earlier invocation, which
 * is what the EAUTH refresh is for. A secret read during this batch counts as fresh.
 */
class TestSecrets implements BatchSecrets {
  private readonly store = new Map<string, string>();
  private readonly cache = new Map<string, { password: string; readAt: number }>();
  readonly forgetCalls: Array<{ accountId: string; time: number; forgot: boolean }> = [];
  /** Reads from the store (cache misses), by account. */
  readonly reads: string[] = [];

  constructor(passwords: Record<string, string>) {
    for (const [id, password] of Object.entries(passwords)) this.store.set(id, password);
  }

  /** The store now holds `password`; the warm cache still has `cached`, read long ago. */
  rotate(accountId: string, cached: string, password: string): void {
    this.store.set(accountId, password);
    this.cache.set(accountId, { password: cached, readAt: 0 });
  }

  source(): CredentialSource {
    return {
      credentials: async (account): Promise<AccountSecret> => {
        const hit = this.cache.get(account.id);
        if (hit) return { password: hit.password };
        const password = this.store.get(account.id);
        if (password === undefined) {
          throw Object.assign(new Error(`no secret for ${account.id}`), {
            code: 'ECREDENTIALS',
            retryable: false,
          });
        }
        this.reads.push(account.id);
        this.cache.set(account.id, { password, readAt: Date.now() });
        return { password };
      },
    };
  }

  forgetIfCachedBefore(accountId: string, time: number): boolean {
    const hit = this.cache.get(accountId);
    const forgot = hit !== undefined && hit.readAt < time;
    if (forgot) this.cache.delete(accountId);
    this.forgetCalls.push({ accountId, time, forgot });
    return forgot;
  }
}

interface SessionHooks {
  /** The loopback source address of a login (Dovecot holds repeat logins after a failure per address). */
  from?(user: string): string | undefined;
  /**
   * Holds a message back: its RETR goes out at once, in order, but the workflow gets the message's
   * stream only once this settles (meanwhile the reply waits, part-received, in the client).
   */
  holdRetr?(user: string, messageNumber: number): Promise<void> | undefined;
  /** Called as the DELE of a message is sent. */
  onDele?(user: string, messageNumber: number): void;
}

/**
 * `PollDependencies.connect` over real sessions, recording logins, the RETRs of each user, and
 * how many connections were open at once (from the start of a login to the close).
 */
class SessionLog {
  active = 0;
  maxActive = 0;
  readonly logins: Array<{ user: string; ok: boolean }> = [];
  readonly retr = new Map<string, number[]>();
  private readonly closedSessions = new Map<string, { promise: Promise<void>; resolve: () => void }>();

  constructor(
    private readonly hooks: SessionHooks = {},
    private readonly extra: Partial<Pop3ClientOptions> = {},
  ) {}

  /** Resolves once a session of `user` has logged in and closed again. */
  closed(user: string): Promise<void> {
    return this.closedEntry(user).promise;
  }

  retrOf(user: string): number[] {
    return this.retr.get(user) ?? [];
  }

  readonly connect = async (options: Pop3ClientOptions): Promise<Pop3Client> => {
    const user = options.auth.username;
    const from = this.hooks.from?.(user);
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    let client: Pop3Client;
    try {
      client = await Pop3Client.connect({
        ...options,
        ...this.extra,
        ...(from ? { localAddress: from } : {}),
      });
    } catch (error) {
      this.active -= 1;
      this.logins.push({ user, ok: false });
      throw error;
    }
    this.logins.push({ user, ok: true });
    void client.closed.then(() => {
      this.active -= 1;
      this.closedEntry(user).resolve();
    });
    const hooks = this.hooks;
    const retr = this.retr;
    const overrides: Record<string | symbol, unknown> = {
      retr(messageNumber: number) {
        retr.set(user, [...(retr.get(user) ?? []), messageNumber]);
        const stream = client.retr(messageNumber);
        const hold = hooks.holdRetr?.(user, messageNumber);
        if (!hold) return stream;
        stream.catch(() => undefined); // handled by the workflow once it gets it
        return hold.then(() => stream);
      },
      dele(messageNumber: number) {
        hooks.onDele?.(user, messageNumber);
        return client.dele(messageNumber);
      },
    };
    return new Proxy(client, {
      get(target, property) {
        if (property in overrides) return overrides[property];
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };

  private closedEntry(user: string) {
    let entry = this.closedSessions.get(user);
    if (!entry) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      entry = { promise, resolve };
      this.closedSessions.set(user, entry);
    }
    return entry;
  }
}

/** A fresh loopback source address for each login that may fail (127.0.0.20, .21, …). */
let lastAddress = 19;
const freshAddress = () => `127.0.0.${++lastAddress}`;

const summaries = (sink: MemoryEventSink) =>
  sink.events.filter((e) => e.detailType !== 'Message Archived') as Array<PollEvent<PollSummaryDetail>>;

// ---------------------------------------------------------------------------------------------
// The batch against a real Dovecot

const USERS = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay'] as const;
type User = (typeof USERS)[number];
const PASSWORDS: Record<User, string> = {
  ann: 'ann-pw-1',
  ben: 'ben-pw-2',
  cat: 'cat-pw-3',
  dan: 'dan-pw-4',
  eve: 'eve-pw-5',
  fay: 'fay-pw-6',
};
const box = (user: string) => `${user}-box`;
const SHARD = 7;
const START = '2025-03-04T12:00:00.000Z';
const DEADLINE = new Date('2025-03-04T12:10:00.000Z');
const MiB = 1024 * 1024;

describeWithDovecot('Function: pollBatch (against a real Dovecot)', () => {
  let server: DovecotServer;

  beforeAll(async () => {
    server = await DovecotServer.start({ users: USERS.map((name) => ({ name, password: PASSWORDS[name] })) });
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(() => {
    for (const user of USERS) server.empty(user);
  });

  const jobFor = (user: User, extra: Partial<PollJob> = {}): PollJob => ({
    accountId: box(user),
    secretId: `pop3/${user}`,
    host: server.host,
    port: server.tlsPort,
    tls: 'implicit',
    username: user,
    ...extra,
  });

  function deliver(user: User, count: number, bodyBytes?: number): Buffer[] {
    const messages = makeMessages(count, { batch: user, ...(bodyBytes ? { bodyBytes } : {}) });
    server.deliver(messages, user);
    return messages;
  }

  /** Every user's password, as the secret store holds it, with `wrong` ones replaced. */
  function secretsFor(wrong: Partial<Record<User, string>> = {}): TestSecrets {
    return new TestSecrets(
      Object.fromEntries(USERS.map((u) => [box(u), wrong[u] ?? PASSWORDS[u]])) as Record<string, string>,
    );
  }

  /** The message bytes of `user`'s mailbox by message number, read in a session that deletes nothing. */
  async function numbering(user: User): Promise<Map<number, Buffer>> {
    const client = await Pop3Client.connect({
      host: server.host,
      port: server.tlsPort,
      tls: 'implicit',
      tlsOptions: { ca: server.certs.caPem },
      auth: { username: user, password: PASSWORDS[user] },
    });
    const out = new Map<number, Buffer>();
    for (const { messageNumber } of await client.list()) {
      out.set(messageNumber, await client.retrBuffer(messageNumber));
    }
    await client.quit();
    return out;
  }

  interface World {
    archive: MemoryArchive;
    events: MemoryEventSink;
    queue: MemoryJobQueue;
    lastPolls: MemoryLastPolls;
    clock: ManualClock;
  }

  function world(): World {
    return {
      archive: new MemoryArchive(),
      events: new MemoryEventSink(),
      queue: new MemoryJobQueue(),
      lastPolls: new MemoryLastPolls(),
      clock: new ManualClock(START),
    };
  }

  interface RunOptions {
    readonly sessions?: SessionLog;
    readonly secrets?: TestSecrets;
    readonly settings?: Partial<BatchSettings>;
    readonly run?: Partial<BatchRun>;
    readonly deps?: Partial<BatchDeps>;
    readonly withLastPolls?: boolean;
  }

  function runBatch(
    w: World,
    batch: BatchJob | readonly PollJob[],
    options: RunOptions = {},
  ): Promise<BatchOutcome> {
    const job: BatchJob = 'v' in batch ? batch : { v: 2, shard: SHARD, mailboxes: batch };
    return pollBatch(
      job,
      {
        runId: 'run-1',
        deadline: DEADLINE,
        signal: new AbortController().signal,
        messageId: 'msg-1',
        ...options.run,
      },
      {
        mailboxConcurrency: 4,
        summaryEvents: 'changes',
        maxFollowUps: 3,
        caPem: server.certs.caPem,
        memoryBudgetBytes: 64 * MiB,
        ...options.settings,
      },
      {
        archive: w.archive,
        events: w.events,
        clock: w.clock,
        queue: w.queue,
        secrets: options.secrets ?? secretsFor(),
        connect: (options.sessions ?? new SessionLog()).connect,
        ...(options.withLastPolls === false ? {} : { lastPolls: w.lastPolls }),
        ...options.deps,
      },
    );
  }

  const worldOf = (w: World, user: User) => ({
    server,
    archive: w.archive,
    events: w.events,
    accountId: box(user),
    user,
  });

  const outcomeOf = (outcome: BatchOutcome, user: User) =>
    outcome.mailboxes.find((m) => m.job.accountId === box(user))!;

  // -------------------------------------------------------------------------------------------

  describe('a batch of mailboxes', () => {
    it('archives every mailbox byte-exact, a bounded number at a time; a wrong password fails alone', async () => {
      const mail = {
        ann: deliver('ann', 3),
        ben: deliver('ben', 3),
        cat: deliver('cat', 3),
        dan: deliver('dan', 3),
        eve: deliver('eve', 3),
        fay: deliver('fay', 2),
      };
      const w = world();
      const sessions = new SessionLog({ from: (user) => (user === 'fay' ? freshAddress() : undefined) });
      const secrets = secretsFor({ fay: 'not-fays-password' });
      const jobs = (['fay', 'ann', 'ben', 'cat', 'dan', 'eve'] as const).map((u) => jobFor(u));

      const outcome = await runBatch(w, jobs, {
        sessions,
        secrets,
        settings: { mailboxConcurrency: 2 },
        withLastPolls: false,
      });

      // Outcomes in job order, each mailbox's failure its own.
      expect(outcome.mailboxes.map((m) => m.job)).toEqual(jobs);
      const fay = outcomeOf(outcome, 'fay');
      expect(fay.result).toMatchObject({
        status: 'failed',
        listed: 0,
        fetched: 0,
        deleted: 0,
        error: { code: 'EAUTH', needsAttention: true },
      });
      expect(fay.result.error!.message).not.toContain('not-fays-password');
      // The password was read in this batch: nothing stale to refresh, so no second login.
      expect(fay.refreshedSecret).toBe(false);
      expect(secrets.forgetCalls).toEqual([
        { accountId: 'fay-box', time: expect.any(Number), forgot: false },
      ]);
      expect(sessions.logins.filter((l) => l.user === 'fay')).toEqual([{ user: 'fay', ok: false }]);

      for (const user of ['ann', 'ben', 'cat', 'dan', 'eve'] as const) {
        const { result } = outcomeOf(outcome, user);
        expect(result).toMatchObject({ status: 'ok', listed: 3, archived: 3, deleted: 3, remaining: 0 });
        expect(result.error).toBeUndefined();
        expect(server.mailboxCount(user)).toBe(0);
        // Byte-exact: the archived object under each message's content key is the delivered message.
        for (const bytes of mail[user]) {
          const stored = w.archive.objects.get(archiveKey(box(user), sha256(bytes)));
          expect(stored && sha256(stored)).toBe(sha256(bytes));
        }
        expectNothingLost(worldOf(w, user), mail[user]);
      }
      expect(w.archive.objects.size).toBe(15);
      expect(onServer(worldOf(w, 'fay'), mail.fay)).toEqual([1, 2]);
      expect([...w.archive.objects.keys()].some((k) => k.startsWith('fay-box/'))).toBe(false);

      // Never more than mailboxConcurrency connections at once, and the bound was used.
      expect(sessions.maxActive).toBe(2);
      expect(sessions.logins).toHaveLength(6);

      // Nothing left over: no follow-up, no record writer to call.
      expect(w.queue.calls).toEqual([]);
      expect(outcome).toMatchObject({ lastPollFailures: 0 });
      expect(outcome.followUpSkipped).toBeUndefined();
      expect(outcome.followUpFailure).toBeUndefined();
      expect(outcome.mailboxes.every((m) => !m.lastPollWritten && !m.followUp)).toBe(true);
    });

    it('polls an empty batch without a session, an event or a queue call', async () => {
      const w = world();
      const sessions = new SessionLog();
      const outcome = await runBatch(w, [], { sessions });
      expect(outcome).toMatchObject({ mailboxes: [], lastPollFailures: 0 });
      expect(sessions.logins).toEqual([]);
      expect(w.events.events).toEqual([]);
      expect(w.queue.calls).toEqual([]);
      expect(w.lastPolls.writes).toEqual([]);
    });
  });

  // -------------------------------------------------------------------------------------------

  describe('EAUTH with a secret from the warm cache', () => {
    it('polls once more with a freshly read secret when the cached one was older than the batch', async () => {
      const delivered = deliver('eve', 2);
      const w = world();
      // Every login of eve from its own address: the refused one must not hold up the next.
      const sessions = new SessionLog({ from: (user) => (user === 'eve' ? freshAddress() : undefined) });
      const secrets = secretsFor();
      secrets.rotate(box('eve'), 'eves-old-password', PASSWORDS.eve);
      const before = Date.now();

      const outcome = await runBatch(w, [jobFor('eve'), jobFor('ann')], { sessions, secrets });

      const eve = outcomeOf(outcome, 'eve');
      expect(eve.refreshedSecret).toBe(true);
      expect(eve.result).toMatchObject({ status: 'ok', archived: 2, deleted: 2 });
      expect(eve.result.error).toBeUndefined();
      expect(sessions.logins.filter((l) => l.user === 'eve')).toEqual([
        { user: 'eve', ok: false },
        { user: 'eve', ok: true },
      ]);
      // Asked with the batch's start time; only eve failed, so only eve was asked about.
      expect(secrets.forgetCalls).toEqual([{ accountId: 'eve-box', time: expect.any(Number), forgot: true }]);
      expect(secrets.forgetCalls[0]!.time).toBeGreaterThanOrEqual(before);
      expect(secrets.reads.filter((id) => id === 'eve-box')).toHaveLength(1);
      // Only the refreshed mailbox was polled again.
      expect(sessions.logins.filter((l) => l.user === 'ann')).toHaveLength(1);
      expect(outcomeOf(outcome, 'ann').refreshedSecret).toBe(false);
      expect(server.mailboxCount('eve')).toBe(0);
      expectNothingLost(worldOf(w, 'eve'), delivered);
      // The summary and the record tell of the second poll, not of the refused login.
      expect(summaries(w.events).map((e) => [e.detail.accountId, e.detail.status])).toEqual(
        expect.arrayContaining([['eve-box', 'ok']]),
      );
      expect(w.lastPolls.of('eve-box')).toMatchObject({ status: 'ok', archived: 2 });
      expect(w.lastPolls.of('eve-box')).not.toHaveProperty('code');
    });

    it('does not poll again when the secret was read fresh in this batch', async () => {
      const delivered = deliver('eve', 2);
      const w = world();
      const sessions = new SessionLog({ from: (user) => (user === 'eve' ? freshAddress() : undefined) });
      const secrets = secretsFor({ eve: 'wrong-in-the-store-too' });

      const outcome = await runBatch(w, [jobFor('eve')], { sessions, secrets });

      const eve = outcomeOf(outcome, 'eve');
      expect(eve.refreshedSecret).toBe(false);
      expect(eve.result).toMatchObject({ status: 'failed', error: { code: 'EAUTH' } });
      expect(sessions.logins).toEqual([{ user: 'eve', ok: false }]);
      expect(secrets.forgetCalls).toEqual([
        { accountId: 'eve-box', time: expect.any(Number), forgot: false },
      ]);
      expect(onServer(worldOf(w, 'eve'), delivered)).toEqual([1, 2]);
      expect(w.lastPolls.of('eve-box')).toMatchObject({ status: 'failed', code: 'EAUTH' });
    });

    it('drops the stale secret but does not poll again once the deadline has passed', async () => {
      deliver('eve', 1);
      const w = world();
      w.clock.set(DEADLINE); // the first poll took the whole invocation
      const sessions = new SessionLog({ from: (user) => (user === 'eve' ? freshAddress() : undefined) });
      const secrets = secretsFor();
      secrets.rotate(box('eve'), 'eves-old-password', PASSWORDS.eve);

      const outcome = await runBatch(w, [jobFor('eve')], { sessions, secrets });

      expect(outcomeOf(outcome, 'eve')).toMatchObject({
        refreshedSecret: false,
        result: { status: 'failed', error: { code: 'EAUTH' } },
      });
      expect(sessions.logins).toEqual([{ user: 'eve', ok: false }]);
      // Forgotten all the same: the next tick reads the new password.
      expect(secrets.forgetCalls).toEqual([{ accountId: 'eve-box', time: expect.any(Number), forgot: true }]);
      expect(server.mailboxCount('eve')).toBe(1);
    });
  });

  // -------------------------------------------------------------------------------------------

  describe('summary events and last-poll records', () => {
    /** A mixed batch: each mailbox's `last` and mail chosen for one rule of `changes`. */
    function mixedBatch() {
      const mail = { ben: deliver('ben', 2) };
      const jobs = {
        // Empty and healthy, as last time, recorded 5 minutes ago: nothing to say, nothing to write.
        ann: jobFor('ann', { last: { status: 'ok', at: '2025-03-04T11:55:00.000Z' } }),
        // Mail archived: a summary, and a record with the count and the time.
        ben: jobFor('ben', {
          last: { status: 'ok', at: '2025-03-04T11:55:00.000Z', lastArchivedAt: '2025-03-01T09:00:00.000Z' },
        }),
        // First poll ever: a summary and a record.
        cat: jobFor('cat'),
        // The same failure as last time: a summary (failures always speak), no new record.
        dan: jobFor('dan', { last: { status: 'failed', code: 'EAUTH', at: '2025-03-04T11:55:00.000Z' } }),
        // Healthy but recorded two days ago: no summary, a refreshed record.
        eve: jobFor('eve', {
          last: { status: 'ok', at: '2025-03-02T12:00:00.000Z', lastArchivedAt: '2025-02-20T10:00:00.000Z' },
        }),
        // Recovered from a timeout: a summary and a record.
        fay: jobFor('fay', { last: { status: 'failed', code: 'ETIMEDOUT', at: '2025-03-04T11:55:00.000Z' } }),
      };
      return { mail, jobs, list: Object.values(jobs) };
    }

    it("'changes': a summary only for news, records only when they would change (lastPollFor)", async () => {
      const { mail, list } = mixedBatch();
      const w = world();
      const sessions = new SessionLog({ from: (user) => (user === 'dan' ? freshAddress() : undefined) });

      const outcome = await runBatch(w, list, { sessions, secrets: secretsFor({ dan: 'not-dans' }) });

      const flags = Object.fromEntries(
        outcome.mailboxes.map((m) => [m.job.username, [m.summaryPublished, m.lastPollWritten]]),
      );
      expect(flags).toEqual({
        ann: [false, false],
        ben: [true, true],
        cat: [true, true],
        dan: [true, false],
        eve: [false, true],
        fay: [true, true],
      });
      const sent = summaries(w.events);
      expect(sent.map((e) => [e.detail.accountId, e.detailType]).sort()).toEqual([
        ['ben-box', 'Poll Completed'],
        ['cat-box', 'Poll Completed'],
        ['dan-box', 'Poll Failed'],
        ['fay-box', 'Poll Completed'],
      ]);
      for (const event of sent) {
        expect(event.id).toBe(stableEventId('summary', 'run-1', event.detail.accountId));
        expect(event.time).toBe(START);
      }
      expect(sent.find((e) => e.detail.accountId === 'ben-box')!.detail).toMatchObject({
        runId: 'run-1',
        status: 'ok',
        archived: 2,
        deleted: 2,
        remaining: 0,
      });
      expect(sent.find((e) => e.detail.accountId === 'dan-box')!.detail).toMatchObject({
        status: 'failed',
        errorCode: 'EAUTH',
        needsAttention: true,
      });

      // The records written are exactly what lastPollFor says, at the batch's clock.
      const expected = outcome.mailboxes.flatMap((m) => {
        const record = lastPollFor(m.job, m.result, w.clock.now());
        return record ? [{ id: m.job.accountId, lastPoll: record }] : [];
      });
      expect([...w.lastPolls.writes].sort((a, b) => a.id.localeCompare(b.id))).toStrictEqual(expected);
      expect(w.lastPolls.of('ben-box')).toStrictEqual({
        at: START,
        status: 'ok',
        archived: 2,
        lastArchivedAt: START,
      });
      expect(w.lastPolls.of('eve-box')).toStrictEqual({
        at: START,
        status: 'ok',
        lastArchivedAt: '2025-02-20T10:00:00.000Z',
      });
      expect(w.lastPolls.of('cat-box')).toStrictEqual({ at: START, status: 'ok' });
      expect(w.lastPolls.of('fay-box')).toStrictEqual({ at: START, status: 'ok' });
      expect(outcome.lastPollFailures).toBe(0);
      expectNothingLost(worldOf(w, 'ben'), mail.ben);
    });

    it('a failing record write is counted, and neither fails the batch nor the other writes', async () => {
      const { mail, list } = mixedBatch();
      const w = world();
      w.lastPolls.failFor.add('ben-box');
      w.lastPolls.failFor.add('cat-box');
      const sessions = new SessionLog({ from: (user) => (user === 'dan' ? freshAddress() : undefined) });

      const outcome = await runBatch(w, list, { sessions, secrets: secretsFor({ dan: 'not-dans' }) });

      expect(outcome.lastPollFailures).toBe(2);
      expect(outcomeOf(outcome, 'ben')).toMatchObject({ lastPollWritten: false, summaryPublished: true });
      expect(outcomeOf(outcome, 'cat').lastPollWritten).toBe(false);
      expect(w.lastPolls.writes.map((x) => x.id).sort()).toEqual(['eve-box', 'fay-box']);
      // The mail is archived and gone from the server all the same.
      expect(outcomeOf(outcome, 'ben').result).toMatchObject({ status: 'ok', archived: 2, deleted: 2 });
      expectNothingLost(worldOf(w, 'ben'), mail.ben);
      expect(server.mailboxCount('ben')).toBe(0);
    });

    it("'none' publishes no summary at all, 'all' one per mailbox", async () => {
      const jobs = [
        jobFor('ann', { last: { status: 'ok', at: '2025-03-04T11:55:00.000Z' } }),
        jobFor('cat', { last: { status: 'failed', code: 'ETIMEDOUT', at: '2025-03-04T11:55:00.000Z' } }),
      ];
      const quiet = world();
      await runBatch(quiet, jobs, { settings: { summaryEvents: 'none' } });
      expect(quiet.events.events).toEqual([]);
      // Records are written whatever the summary mode: cat's status changed.
      expect(quiet.lastPolls.writes.map((x) => x.id)).toEqual(['cat-box']);

      const chatty = world();
      const outcome = await runBatch(chatty, jobs, { settings: { summaryEvents: 'all' } });
      expect(
        summaries(chatty.events)
          .map((e) => e.detail.accountId)
          .sort(),
      ).toEqual(['ann-box', 'cat-box']);
      expect(outcome.mailboxes.every((m) => m.summaryPublished)).toBe(true);
    });
  });

  // -------------------------------------------------------------------------------------------

  describe('follow-ups', () => {
    it("sends one follow-up job, in the shard's group, for the mailboxes stopped with mail left", async () => {
      const mail = {
        ann: deliver('ann', 5),
        ben: deliver('ben', 2),
        cat: deliver('cat', 4),
        dan: deliver('dan', 3),
      };
      const w = world();
      const jobs = {
        ann: jobFor('ann', { maxMessages: 2 }), // 3 left: follow-up 1
        ben: jobFor('ben', { maxMessages: 2 }), // drained exactly: none
        cat: jobFor('cat', { maxMessages: 1, followUp: 3 }), // 3 left, but at maxFollowUps: skipped
        dan: jobFor('dan', { maxMessages: 1, followUp: 1 }), // 2 left: follow-up 2
      };

      const outcome = await runBatch(w, Object.values(jobs), { run: { messageId: 'msg-7' } });

      expect(outcomeOf(outcome, 'ann').result).toMatchObject({
        archived: 2,
        deleted: 2,
        remaining: 3,
        stoppedBy: 'maxMessages',
      });
      expect(outcomeOf(outcome, 'ben').result.stoppedBy).toBeUndefined();
      expect(w.queue.calls).toHaveLength(1);
      expect(w.queue.sent).toStrictEqual([
        {
          job: {
            v: 2,
            shard: SHARD,
            mailboxes: [
              { ...jobs.ann, followUp: 1, last: expect.objectContaining({ status: 'ok' }) },
              { ...jobs.dan, followUp: 2, last: expect.objectContaining({ status: 'ok' }) },
            ],
          },
          groupId: `shard-${SHARD}`,
          deduplicationId: `shard-${SHARD}@f:msg-7`,
        },
      ]);
      expect(outcome.followUpSkipped).toBe('limit');
      expect(outcome.followUpFailure).toBeUndefined();
      expect(outcome.mailboxes.map((m) => [m.job.username, m.followUp])).toEqual([
        ['ann', true],
        ['ben', false],
        ['cat', false],
        ['dan', true],
      ]);

      // The follow-up runs next: it continues where this one stopped and sends the next one.
      const next = await runBatch(w, w.queue.sent[0]!.job, { run: { runId: 'run-2', messageId: 'msg-8' } });
      expect(outcomeOf(next, 'ann').result).toMatchObject({ listed: 3, deleted: 2, remaining: 1 });
      expect(w.queue.sent[1]).toMatchObject({
        groupId: `shard-${SHARD}`,
        deduplicationId: `shard-${SHARD}@f:msg-8`,
        job: {
          mailboxes: [
            { accountId: 'ann-box', followUp: 2 },
            { accountId: 'dan-box', followUp: 3 },
          ],
        },
      });
      for (const user of ['ann', 'ben', 'cat', 'dan'] as const)
        expectNothingLost(worldOf(w, user), mail[user]);
      expect(server.mailboxCount('ann')).toBe(1);
      expect(server.mailboxCount('cat')).toBe(3);
    });

    it('carries the record just written into the follow-up, so it compares against this poll', async () => {
      deliver('ann', 3);
      const w = world();
      // Last tick's login failed; this one works and archives 1 of 3.
      const job = jobFor('ann', {
        maxMessages: 1,
        last: { status: 'failed', code: 'EAUTH', at: '2025-03-04T11:55:00.000Z' },
      });

      await runBatch(w, [job]);

      const [followUp] = w.queue.sent;
      expect(followUp!.job.mailboxes[0]!.last).toStrictEqual({
        status: 'ok',
        at: START,
        lastArchivedAt: START,
      });

      // The follow-up fails to archive anything (its store is down): its record must not go back
      // to last tick's lastArchivedAt (none), and it is a change against this poll, not last tick's.
      w.clock.set('2025-03-04T12:01:00.000Z');
      w.archive.failWhen = () => new Error('S3 is down (injected)');
      const next = await runBatch(w, followUp!.job, { run: { runId: 'run-2', messageId: 'msg-2' } });
      expect(outcomeOf(next, 'ann').result).toMatchObject({ status: 'failed', archived: 0 });
      expect(w.lastPolls.writes.at(-1)).toStrictEqual({
        id: 'ann-box',
        lastPoll: {
          at: '2025-03-04T12:01:00.000Z',
          status: 'failed',
          code: 'EARCHIVE',
          message: expect.any(String),
          lastArchivedAt: START,
        },
      });
      expect(server.mailboxCount('ann')).toBe(2);
    });

    it('sends nothing when every mailbox due is at the limit', async () => {
      deliver('ann', 3);
      const w = world();
      const outcome = await runBatch(w, [jobFor('ann', { maxMessages: 1, followUp: 3 })]);
      expect(w.queue.calls).toEqual([]);
      expect(outcome.followUpSkipped).toBe('limit');
      expect(outcomeOf(outcome, 'ann').followUp).toBe(false);
      expect(server.mailboxCount('ann')).toBe(2);
    });

    it('reports a follow-up the queue refused, and the mail stays on the server for the next tick', async () => {
      const mail = deliver('ann', 4);
      const w = world();
      w.queue.refuse = () => ({ code: 'InternalError', message: 'SQS is having a day' });

      const outcome = await runBatch(w, [jobFor('ann', { maxMessages: 1 }), jobFor('ben')]);

      expect(w.queue.calls).toHaveLength(1);
      expect(outcome.followUpFailure).toBe('InternalError: SQS is having a day');
      expect(outcome.followUpSkipped).toBeUndefined();
      expect(outcome.mailboxes.every((m) => !m.followUp)).toBe(true);
      expect(onServer(worldOf(w, 'ann'), mail)).toEqual([2, 3, 4]);
      expectNothingLost(worldOf(w, 'ann'), mail);
    });

    it("sends none when the server's LOGIN-DELAY forbids another login before the next tick", async () => {
      // Dovecot has no LOGIN-DELAY setting: a scripted server advertises it after login.
      const scripted = await startScriptedMailbox(makeMessages(3, { batch: 'delay' }), {
        capabilitiesAfterLogin: ['LOGIN-DELAY 300'],
      });
      const w = world();
      const job: PollJob = {
        accountId: 'delayed-box',
        secretId: 'pop3/delayed',
        host: '127.0.0.1',
        port: scripted.server.port,
        tls: 'none',
        username: 'alice',
        authMethod: 'USER',
        maxMessages: 1,
      };
      // A job cannot allow a cleartext password; the scripted server has no TLS, so the test's
      // connect does.
      const sessions = new SessionLog({}, { allowPlaintextAuth: true });

      const outcome = await runBatch(w, [job], {
        sessions,
        secrets: new TestSecrets({ 'delayed-box': SCRIPTED_PASSWORD }),
      });

      expect(outcome.mailboxes[0]!.result).toMatchObject({
        status: 'ok',
        deleted: 1,
        remaining: 2,
        stoppedBy: 'maxMessages',
        loginDelaySeconds: 300,
      });
      expect(w.queue.calls).toEqual([]);
      expect(outcome.followUpSkipped).toBe('loginDelay');
      expect(scripted.live.size).toBe(2);
      await scripted.close();
    });
  });

  // -------------------------------------------------------------------------------------------

  describe('keep mode', () => {
    it('flushes the seen store once, after every mailbox, and reports its failure without failing', async () => {
      const mail = deliver('ann', 2);
      const w = world();
      const order: string[] = [];
      const seen = new MemorySeenStore();
      const outcome = await runBatch(w, [jobFor('ann', { mode: 'keep' }), jobFor('ben')], {
        deps: {
          seen,
          flushSeen: async () => {
            order.push(`flush after ${w.archive.objects.size} archived`);
            throw new Error('state object write failed (injected)');
          },
        },
      });
      expect(order).toEqual(['flush after 2 archived']);
      expect((outcome.seenFailure as Error).message).toBe('state object write failed (injected)');
      expect(outcomeOf(outcome, 'ann').result).toMatchObject({ status: 'ok', archived: 2, deleted: 0 });
      expect(onServer(worldOf(w, 'ann'), mail)).toEqual([1, 2]);
      expect(seen.entries.get('ann-box')?.size).toBe(2);
    });
  });

  // -------------------------------------------------------------------------------------------

  describe('no message lost when a batch is cut short', () => {
    /** ~700 KB messages: the 2 MiB retrieve-ahead window holds two, so later RETRs wait for reads. */
    const LARGE = 700_000;

    /**
     * Watches every DELE as it is sent: the message must already be in the archive, byte-exact,
     * with its event published. Violations are collected, not thrown (the hook runs in the client).
     */
    function deleWatch(w: World, numbers: Map<User, Map<number, Buffer>>) {
      const violations: string[] = [];
      const deles: string[] = [];
      const onDele = (user: string, n: number) => {
        deles.push(`${user}:${n}`);
        const bytes = numbers.get(user as User)?.get(n);
        if (!bytes) return void violations.push(`${user}: DELE ${n} of an unknown message`);
        const stored = w.archive.objects.get(archiveKey(box(user), sha256(bytes)));
        if (!stored?.equals(bytes)) violations.push(`${user}: DELE ${n} before it was archived byte-exact`);
        const announced = archivedEvents(w.events).some(
          (e) => e.detail.accountId === box(user) && e.detail.sha256 === sha256(bytes),
        );
        if (!announced) violations.push(`${user}: DELE ${n} before its event was published`);
      };
      return { violations, deles, onDele };
    }

    async function numberAll(users: readonly User[]): Promise<Map<User, Map<number, Buffer>>> {
      return new Map(await Promise.all(users.map(async (u) => [u, await numbering(u)] as const)));
    }

    /** For every delivered message: archived byte-exact and gone, or still on the server. */
    function expectEverySafe(w: World, mail: Record<string, Buffer[]>) {
      for (const [user, delivered] of Object.entries(mail)) {
        const files = server.mailboxFiles(user);
        for (const [i, bytes] of delivered.entries()) {
          const stored = w.archive.objects.get(archiveKey(box(user), sha256(bytes)));
          const present = files.filter((f) => f.equals(bytes)).length;
          const fate =
            present === 1 ? 'on server' : stored && sha256(stored) === sha256(bytes) ? 'archived' : 'LOST';
          expect(`${user} #${i + 1}: ${fate}`).not.toMatch(/LOST$/);
          expect(present).toBeLessThanOrEqual(1);
        }
        expectNothingLost(worldOf(w, user as User), delivered);
      }
    }

    it("one mailbox's store fails, the deadline hits another, the rest complete; the next run finishes", async () => {
      const mail = {
        ann: deliver('ann', 6), // its archive fails after 2 puts
        ben: deliver('ben', 5, LARGE), // the deadline passes as it reads its first message
        cat: deliver('cat', 4),
        dan: deliver('dan', 3),
      };
      const w = world();
      let annPuts = 0;
      w.archive.failWhen = (item) =>
        item.accountId === 'ann-box' && ++annPuts > 2
          ? new Error('SlowDown: reduce your request rate')
          : undefined;
      const numbers = await numberAll(['ann', 'ben', 'cat', 'dan']);
      const watch = deleWatch(w, numbers);
      // Deterministic: ben's first message is held until the other three sessions have ended, and
      // the clock passes the deadline then, while its second message is already requested.
      const sessions: SessionLog = new SessionLog({
        onDele: watch.onDele,
        holdRetr: (user, n) =>
          user === 'ben' && n === 1
            ? Promise.all(['ann', 'cat', 'dan'].map((u) => sessions.closed(u))).then(() =>
                w.clock.set('2025-03-04T12:10:00.001Z'),
              )
            : undefined,
      });
      const jobs = (['ann', 'ben', 'cat', 'dan'] as const).map((u) => jobFor(u));

      const outcome = await runBatch(w, jobs, { sessions, run: { messageId: 'msg-cut' } });

      expect(watch.violations).toEqual([]);
      expect(outcomeOf(outcome, 'ann').result).toMatchObject({
        status: 'failed',
        archived: 2,
        deleted: 2,
        failedMessages: 4,
        remaining: 4,
        stoppedBy: 'error',
        error: { code: 'EARCHIVE' },
      });
      expect(outcomeOf(outcome, 'ben').result).toMatchObject({
        status: 'ok',
        listed: 5,
        fetched: 2,
        archived: 2,
        deleted: 2,
        remaining: 3,
        stoppedBy: 'deadline',
      });
      expect(sessions.retrOf('ben')).toEqual([1, 2]); // 3–5 never started
      expect(outcomeOf(outcome, 'cat').result).toMatchObject({ status: 'ok', deleted: 4, remaining: 0 });
      expect(outcomeOf(outcome, 'dan').result).toMatchObject({ status: 'ok', deleted: 3, remaining: 0 });
      // Every DELE committed was watched, and only those.
      expect(watch.deles).toHaveLength(2 + 2 + 4 + 3);

      expect(onServer(worldOf(w, 'ben'), mail.ben)).toEqual([3, 4, 5]);
      expect(server.mailboxCount('ann')).toBe(4);
      expect(server.mailboxCount('cat') + server.mailboxCount('dan')).toBe(0);
      expectEverySafe(w, mail);

      // The deadline's mailbox continues in a follow-up; the failed store's waits for the next tick.
      expect(w.queue.sent).toHaveLength(1);
      expect(w.queue.sent[0]).toMatchObject({
        groupId: `shard-${SHARD}`,
        deduplicationId: `shard-${SHARD}@f:msg-cut`,
        job: { v: 2, shard: SHARD, mailboxes: [{ accountId: 'ben-box', followUp: 1 }] },
      });
      expect(w.queue.sent[0]!.job.mailboxes).toHaveLength(1);
      expect(outcomeOf(outcome, 'ann')).toMatchObject({ followUp: false, summaryPublished: true });

      // The next run, with the store healthy again, takes everything that was left.
      w.archive.failWhen = () => undefined;
      w.clock.set('2025-03-04T12:20:00.000Z');
      const again = await runBatch(w, jobs, {
        run: { runId: 'run-2', messageId: 'msg-next', deadline: new Date('2025-03-04T12:30:00.000Z') },
      });
      expect(outcomeOf(again, 'ann').result).toMatchObject({ status: 'ok', archived: 4, deleted: 4 });
      expect(outcomeOf(again, 'ben').result).toMatchObject({ status: 'ok', archived: 3, deleted: 3 });
      for (const user of ['ann', 'ben', 'cat', 'dan'] as const) {
        expect(server.mailboxCount(user)).toBe(0);
        for (const bytes of mail[user]) {
          expect(sha256(w.archive.objects.get(archiveKey(box(user), sha256(bytes)))!)).toBe(sha256(bytes));
        }
      }
      expect(w.archive.objects.size).toBe(6 + 5 + 4 + 3);
      expectEverySafe(w, mail);
    });

    it('the abort signal cuts a transfer mid-message: that mailbox keeps all its mail, the others are done', async () => {
      const mail = {
        ann: deliver('ann', 6),
        ben: deliver('ben', 5, LARGE),
        cat: deliver('cat', 4),
        dan: deliver('dan', 3),
      };
      const w = world();
      let annPuts = 0;
      w.archive.failWhen = (item) =>
        item.accountId === 'ann-box' && ++annPuts > 3
          ? new Error('SlowDown: reduce your request rate')
          : undefined;
      const numbers = await numberAll(['ann', 'ben', 'cat', 'dan']);
      const watch = deleWatch(w, numbers);
      const cut = new AbortController();
      // Ben's first message is read and archived; the second is arriving (held part-way in the
      // client) when the invocation's signal fires, after the other sessions have ended.
      const sessions: SessionLog = new SessionLog({
        onDele: watch.onDele,
        holdRetr: (user, n) =>
          user === 'ben' && n === 2
            ? Promise.all(['ann', 'cat', 'dan'].map((u) => sessions.closed(u))).then(() =>
                cut.abort(new Error('invocation ending')),
              )
            : undefined,
      });
      const jobs = (['ann', 'ben', 'cat', 'dan'] as const).map((u) => jobFor(u));

      const outcome = await runBatch(w, jobs, { sessions, run: { signal: cut.signal } });

      expect(watch.violations).toEqual([]);
      const ben = outcomeOf(outcome, 'ben');
      // Message 1 was read whole; 2 and 3 were on their way when the cut came.
      expect(ben.result).toMatchObject({ status: 'failed', fetched: 1, deleted: 0, remaining: 5 });
      expect(sessions.retrOf('ben')).toEqual([1, 2, 3]);
      expect(ben.result.error!.code).toBe('EABORTED');
      expect(ben.followUp).toBe(false);
      // Cut without QUIT: nothing of ben's was removed, whatever was archived first.
      expect(onServer(worldOf(w, 'ben'), mail.ben)).toEqual([1, 2, 3, 4, 5]);
      expect(outcomeOf(outcome, 'ann').result).toMatchObject({ archived: 3, deleted: 3, remaining: 3 });
      expect(server.mailboxCount('cat') + server.mailboxCount('dan')).toBe(0);
      expectEverySafe(w, mail);

      // The next run drains it all; what was archived before the cut lands on the same keys.
      w.archive.failWhen = () => undefined;
      const again = await runBatch(w, jobs, { run: { runId: 'run-2', messageId: 'msg-next' } });
      expect(outcomeOf(again, 'ben').result).toMatchObject({ status: 'ok', deleted: 5 });
      for (const user of ['ann', 'ben', 'cat', 'dan'] as const) expect(server.mailboxCount(user)).toBe(0);
      expect(w.archive.objects.size).toBe(6 + 5 + 4 + 3);
      expectEverySafe(w, mail);
    });

    it('the hard stop cuts a session still running past the deadline and its grace: EDEADLINE, nothing of it deleted, no follow-up', async () => {
      const mail = { ann: deliver('ann', 3), ben: deliver('ben', 5, LARGE) };
      const w = world();
      const numbers = await numberAll(['ann', 'ben']);
      const watch = deleWatch(w, numbers);
      // Ben's second message stays part-way in the client (a server that never finishes it) until
      // the hard stop cuts the connection.
      const sessions: SessionLog = new SessionLog({
        onDele: watch.onDele,
        holdRetr: (user, n) => (user === 'ben' && n === 2 ? sessions.closed('ben') : undefined),
      });
      const jobs = (['ann', 'ben'] as const).map((u) => jobFor(u));
      // The manual clock stands still, so the deadline stops no message: only the hard stop's timer
      // (deadline + grace, 2 s from now) acts.
      const started = Date.now();
      const outcome = await runBatch(w, jobs, {
        sessions,
        run: { deadline: new Date(w.clock.now().getTime() + 1000), hardStopGraceMs: 1000 },
      });

      expect(Date.now() - started).toBeLessThan(2000 + 3000);
      expect(watch.violations).toEqual([]);
      const ben = outcomeOf(outcome, 'ben');
      expect(ben.result).toMatchObject({
        status: 'failed',
        fetched: 1,
        archived: 1,
        deleted: 0,
        remaining: 5,
        stoppedBy: 'deadline',
        error: { code: 'EDEADLINE', retryable: true },
      });
      // Whatever held the session would hold a follow-up as long: the next tick tries again.
      expect(ben.followUp).toBe(false);
      expect(w.queue.calls).toHaveLength(0);
      expect(onServer(worldOf(w, 'ben'), mail.ben)).toEqual([1, 2, 3, 4, 5]);
      expect(outcomeOf(outcome, 'ann').result).toMatchObject({ status: 'ok', archived: 3, deleted: 3 });
      expectEverySafe(w, mail);
    });
  });
});
