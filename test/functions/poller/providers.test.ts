import type { AccountConfig, AccountSecret } from '../../../functions/poller/account';
import { pollAccount, type AccountResult, type PollOptions } from '../../../functions/poller/poll-account';
import type { CredentialSource } from '../../../functions/poller/ports';
import { isKeepOnlyLogin, providerPreset, PROVIDERS } from '../../../functions/poller/providers';
import { Capabilities, Pop3Client, Pop3Error, type Pop3ClientOptions } from '../../../functions/pop3';
import { DovecotServer } from '../../support/dovecot';
import { FaultyConnector } from '../../support/faulty-connect';
import {
  MemoryArchive,
  MemoryEventSink,
  MemorySeenStore,
  StaticCredentials,
} from '../../support/memory-ports';
import { dovecotAccount, expectNothingLost, makeMessages, ManualClock } from '../../support/poll-fixtures';
import { describeWithDovecot } from '../../support/with-dovecot';

/**
 * Provider presets: what `gmail` and `outlook` fill in, and the Gmail behaviours the workflow
 * handles — a listing of ~250 messages per session (drained in further sessions within the run's
 * bounds, deadline and LOGIN-DELAY) and `recent:` logins, which are never DELE'd.
 */

describe('Function: providerPreset', () => {
  it('knows Gmail and Microsoft 365 by name, and by their hosts', () => {
    expect(providerPreset('gmail', undefined)).toMatchObject({
      host: 'pop.gmail.com',
      port: 995,
      tls: 'implicit',
      partialListing: true,
    });
    expect(providerPreset('outlook', undefined)).toMatchObject({
      host: 'outlook.office365.com',
      port: 995,
      tls: 'implicit',
      partialListing: false,
    });
    expect(providerPreset(undefined, 'POP.Gmail.com.')).toBe(PROVIDERS.gmail);
    expect(providerPreset(undefined, 'pop.example.com')).toBeUndefined();
    // A configured provider wins over what the host looks like (a proxy, a test server).
    expect(providerPreset('gmail', '127.0.0.1')).toBe(PROVIDERS.gmail);
  });

  it('recognises Gmail recent: logins only at Gmail', () => {
    expect(isKeepOnlyLogin(PROVIDERS.gmail, 'recent:alice@gmail.com')).toBe(true);
    expect(isKeepOnlyLogin(PROVIDERS.gmail, 'Recent:alice@gmail.com')).toBe(true);
    expect(isKeepOnlyLogin(PROVIDERS.gmail, 'alice@gmail.com')).toBe(false);
    expect(isKeepOnlyLogin(PROVIDERS.outlook, 'recent:alice@contoso.com')).toBe(false);
    expect(isKeepOnlyLogin(undefined, 'recent:alice')).toBe(false);
  });
});

describe('Function: pollAccount with a provider preset (where it connects)', () => {
  /** Records the options of the one connection attempt and refuses it. */
  async function connectionFor(account: AccountConfig, secret: AccountSecret = { password: 'pw' }) {
    const attempts: Pop3ClientOptions[] = [];
    const result = await pollAccount(
      account,
      {
        credentials: new StaticCredentials({ [account.id]: secret }),
        archive: new MemoryArchive(),
        events: new MemoryEventSink(),
        seen: new MemorySeenStore(),
        connect: async (options) => {
          attempts.push(options);
          throw new Pop3Error('ECONNECTION', 'refused by the test');
        },
      },
      { runId: 'run' },
    );
    return { result, attempts };
  }

  it.each([
    ['gmail', 'pop.gmail.com'],
    ['outlook', 'outlook.office365.com'],
  ] as const)('%s fills host, port 995 and implicit TLS', async (provider, host) => {
    const { attempts } = await connectionFor({ id: 'a', provider, username: 'u@example.com' });

    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ host, port: 995, tls: 'implicit' });
  });

  it('explicit settings win: the secret over the account over the preset', async () => {
    const { attempts } = await connectionFor(
      { id: 'a', provider: 'outlook', username: 'u', port: 1995 },
      { host: 'pop-proxy.internal', password: 'pw', provider: 'gmail' },
    );

    expect(attempts[0]).toMatchObject({ host: 'pop-proxy.internal', port: 1995, tls: 'implicit' });
  });

  it('the secret can name the provider (the Lambda job carries no host)', async () => {
    const { attempts } = await connectionFor(
      { id: 'a' },
      { username: 'u', password: 'pw', provider: 'gmail' },
    );

    expect(attempts[0]).toMatchObject({ host: 'pop.gmail.com', port: 995 });
  });

  it.each([
    [{ mode: 'delete' as const }, 'set mode "keep" or leave mode unset'],
    [{ mode: 'keep' as const, deleteAfterDays: 30 }, 'remove deleteAfterDays'],
  ])('refuses %j for a Gmail recent: login before connecting', async (overrides, fix) => {
    const { result, attempts } = await connectionFor({
      id: 'a',
      host: 'pop.gmail.com',
      username: 'recent:alice@gmail.com',
      ...overrides,
    });

    expect(attempts).toHaveLength(0);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'ECONFIG', retryable: false, needsAttention: true });
    expect(result.error!.message).toBe(
      `account "a" logs in with "recent:", where messages must never be deleted: ${fix}`,
    );
  });
});

describeWithDovecot('Function: pollAccount at a partial-listing provider (real Dovecot as Gmail)', () => {
  let server: DovecotServer;

  beforeAll(async () => {
    server = await DovecotServer.start();
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(() => server.empty());

  /**
   * Dovecot lists the whole mailbox; Gmail lists the next ~250 each session. The world stands in
   * for that by delivering the next batch when a session opens (`batches[i]` before session i+1),
   * and can add Gmail's `LOGIN-DELAY 300` to what the client reads from CAPA. It also logs in to
   * Dovecot as `alice` when the account says `recent:alice`, as Gmail does.
   */
  class GmailWorld {
    readonly archive = new MemoryArchive();
    readonly events = new MemoryEventSink();
    readonly seen = new MemorySeenStore();
    readonly delivered: Buffer[] = [];
    readonly connector = new FaultyConnector();
    sessions = 0;

    constructor(
      private readonly batches: readonly Buffer[][],
      private readonly loginDelaySeconds?: number,
    ) {}

    account(overrides: Partial<AccountConfig> = {}): AccountConfig {
      return dovecotAccount(server, 'gmail-box', { provider: 'gmail', ...overrides });
    }

    async run(
      account: AccountConfig,
      options: Partial<PollOptions> = {},
      clock?: ManualClock,
    ): Promise<AccountResult> {
      const credentials: CredentialSource = { credentials: async () => ({ password: 'alice-secret' }) };
      return pollAccount(
        account,
        {
          credentials,
          archive: this.archive,
          events: this.events,
          seen: this.seen,
          ...(clock ? { clock } : {}),
          connect: (o) => this.connect(o),
        },
        { runId: 'run', ...options },
      );
    }

    private async connect(options: Pop3ClientOptions): Promise<Pop3Client> {
      const batch = this.batches[this.sessions++];
      if (batch) {
        server.deliver(batch);
        this.delivered.push(...batch);
      }
      const username = options.auth.username.replace(/^recent:/, '');
      const client = await this.connector.connect({ ...options, auth: { ...options.auth, username } });
      if (this.loginDelaySeconds === undefined) return client;
      const caps = client.capabilities;
      const withDelay = new Capabilities(
        new Map([
          ...caps.tags.map((t) => [t, caps.args(t)] as const),
          ['LOGIN-DELAY', [String(this.loginDelaySeconds)]],
        ]),
      );
      return new Proxy(client, {
        get(target, property) {
          if (property === 'capabilities') return withDelay;
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    }
  }

  const batches = (...sizes: number[]) => sizes.map((n, i) => makeMessages(n, { batch: `session-${i + 1}` }));

  it('drains in further sessions until a session lists nothing', async () => {
    const world = new GmailWorld(batches(3, 2));

    const result = await world.run(world.account());

    expect(world.sessions).toBe(3);
    expect(world.connector.sessions.map((s) => s.quit)).toEqual(['ok', 'ok', 'ok']);
    expect(result).toMatchObject({
      status: 'ok',
      listed: 5,
      fetched: 5,
      archived: 5,
      deleted: 5,
      remaining: 0,
    });
    expect(result.moreMayRemain).toBeUndefined();
    expect(result.stoppedBy).toBeUndefined();
    expect(server.mailboxCount()).toBe(0);
    expectNothingLost(
      { server, archive: world.archive, events: world.events, accountId: 'gmail-box' },
      world.delivered,
    );
  });

  it('opens one session only at a server that lists everything (no provider)', async () => {
    const world = new GmailWorld(batches(3, 2));

    const result = await world.run(dovecotAccount(server, 'plain-box'));

    expect(world.sessions).toBe(1);
    expect(result).toMatchObject({ status: 'ok', archived: 3 });
    expect(result.moreMayRemain).toBeUndefined();
  });

  it('holds the run bounds over all sessions', async () => {
    const world = new GmailWorld(batches(3, 3));

    const result = await world.run(world.account({ maxMessages: 4 }));

    expect(world.sessions).toBe(2);
    expect(result).toMatchObject({
      archived: 4,
      deleted: 4,
      listed: 6,
      remaining: 2,
      stoppedBy: 'maxMessages',
    });
    expect(server.mailboxCount()).toBe(2);
  });

  it('reports that more may remain when the bound is used up exactly', async () => {
    const world = new GmailWorld(batches(3, 3));

    const result = await world.run(world.account({ maxMessages: 3 }));

    expect(world.sessions).toBe(1);
    expect(result).toMatchObject({
      archived: 3,
      remaining: 0,
      stoppedBy: 'maxMessages',
      moreMayRemain: true,
    });
  });

  it('does not log in again before LOGIN-DELAY has passed since the last login', async () => {
    const world = new GmailWorld(batches(2, 2), 300);
    const clock = new ManualClock();

    const result = await world.run(world.account(), {}, clock);

    expect(world.sessions).toBe(1);
    expect(result).toMatchObject({
      status: 'ok',
      archived: 2,
      remaining: 0,
      stoppedBy: 'loginDelay',
      moreMayRemain: true,
      loginDelaySeconds: 300,
    });
  });

  it('logs in again once a long session has outlasted LOGIN-DELAY', async () => {
    const world = new GmailWorld(batches(2, 1), 300);
    const clock = new ManualClock();

    // Each message takes "three minutes" to handle: the first session lasts six, the second three.
    const result = await world.run(
      world.account(),
      { onProgress: () => clock.set(new Date(clock.now().getTime() + 180_000)) },
      clock,
    );

    expect(world.sessions).toBe(2);
    expect(result).toMatchObject({ archived: 3, stoppedBy: 'loginDelay', moreMayRemain: true });
  });

  it('stops at the deadline between sessions and says more may remain', async () => {
    const world = new GmailWorld(batches(2, 2));
    const clock = new ManualClock('2025-03-04T12:00:00Z');

    const result = await world.run(
      world.account(),
      { deadline: new Date('2025-03-04T12:01:00Z'), onProgress: () => clock.set('2025-03-04T12:01:00Z') },
      clock,
    );

    expect(world.sessions).toBe(1);
    expect(result).toMatchObject({ archived: 2, stoppedBy: 'deadline', moreMayRemain: true });
  });

  it("recent: logins run in keep mode: nothing is DELE'd, and the next run archives only what is new", async () => {
    const world = new GmailWorld(batches(3, 0, 1, 0));
    const account = world.account({ username: 'recent:alice' });

    const first = await world.run(account);

    expect(first).toMatchObject({ status: 'ok', archived: 3, deleted: 0, remaining: 0 });
    expect(world.connector.sessions.every((s) => s.dele.length === 0)).toBe(true);
    expect(server.mailboxCount()).toBe(3);
    expect(world.seen.entries.get('gmail-box')?.size).toBe(3);

    const second = await world.run(account);

    expect(second).toMatchObject({ status: 'ok', listed: 1, archived: 1, deleted: 0 });
    expect(server.mailboxCount()).toBe(4);
    expect(world.connector.sessions.every((s) => s.dele.length === 0)).toBe(true);
  });
});
