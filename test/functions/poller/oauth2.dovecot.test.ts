import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { OAuth2TokenProvider } from '../../../functions/adapters/oauth2-token-provider';
import { SecretsManagerCredentials } from '../../../functions/adapters/secrets-manager-credentials';
import type { AccountConfig } from '../../../functions/poller/account';
import { pollAccount, type AccountResult } from '../../../functions/poller/poll-account';
import { pollAccounts } from '../../../functions/poller/poll-accounts';
import type { TraceEvent } from '../../../functions/pop3';
import { DovecotServer } from '../../support/dovecot';
import { FaultyConnector } from '../../support/faulty-connect';
import { MemoryArchive, MemoryEventSink, MemorySeenStore } from '../../support/memory-ports';
import { OAuthTestServer } from '../../support/oauth-server';
import { archivedNumbers, dovecotAccount, makeMessages } from '../../support/poll-fixtures';
import { describeWithDovecot } from '../../support/with-dovecot';

/**
 * OAuth 2.0 logins end to end against a real Dovecot whose `oauth2` passdb validates bearer
 * tokens at the suite's own introspection endpoint: secrets in (mocked) Secrets Manager, tokens from
 * the suite's own token endpoint through the real OAuth2TokenProvider (Node's fetch), XOAUTH2 and
 * OAUTHBEARER on implicit TLS, and the refresh-once rule when Dovecot rejects a token.
 *
 * Every connection comes from its own loopback address: Dovecot holds the next AUTH from an address
 * 4–15 s after a failed one, which would only slow these tests down.
 */

const TENANT = 'contoso.test';
const APP = { id: 'app-0f3c', secret: 'Zq7-app-client-secret-DO-NOT-LEAK' };
const DESKTOP = { id: 'desktop-9a1e', secret: 'Zq7-desktop-client-secret-DO-NOT-LEAK' };
const USERS = ['alice@contoso.test', 'bob@contoso.test', 'carol@contoso.test', 'dave@contoso.test'].map(
  (name) => ({ name, password: `pw-${name.split('@')[0]}-Zq7` }),
);

const smMock = mockClient(SecretsManagerClient);
/** The secrets, by id, as SecretStrings: PutSecretValue really replaces them. */
const secrets = new Map<string, string>();

let server: DovecotServer;
let oauth: OAuthTestServer;
let address = 1;

/** A loopback source address of its own for each connection (127.0.0.2 … 127.0.0.250). */
function nextAddress(): string {
  address = (address % 249) + 1;
  return `127.0.0.${address + 1}`;
}

function installSecretsManager(): void {
  smMock.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => {
    const value = secrets.get(input.SecretId);
    if (value === undefined)
      throw new ResourceNotFoundException({ $metadata: { httpStatusCode: 400 }, message: 'not found' });
    return { Name: input.SecretId, SecretString: value };
  });
  smMock.on(PutSecretValueCommand).callsFake((input: { SecretId: string; SecretString: string }) => {
    secrets.set(input.SecretId, input.SecretString);
    return { Name: input.SecretId, VersionId: `v-${secrets.size}` };
  });
}

/** One world per test: fresh stores and token cache; `run` is one poll (a new credentials instance). */
class World {
  readonly archive = new MemoryArchive();
  readonly events = new MemoryEventSink();
  readonly seen = new MemorySeenStore();
  readonly tokens = new OAuth2TokenProvider();
  readonly warnings: string[] = [];
  /** The protocol trace of every session (credentials redacted by the client). */
  readonly trace: TraceEvent[] = [];
  connector = new FaultyConnector();

  private newConnector(): FaultyConnector {
    return new FaultyConnector({
      options: (o) => {
        oauth.loginFor(o.auth.username);
        return { localAddress: nextAddress(), onTrace: (e) => this.trace.push(e) };
      },
    });
  }

  deps() {
    this.connector = this.newConnector();
    return {
      credentials: new SecretsManagerCredentials(new SecretsManagerClient({}), (id: string) => `pop3/${id}`, {
        tokens: this.tokens,
        onWarning: (w: string) => this.warnings.push(w),
      }),
      archive: this.archive,
      events: this.events,
      seen: this.seen,
      connect: this.connector.connect,
    };
  }

  async run(account: AccountConfig): Promise<AccountResult> {
    return pollAccount(account, this.deps(), { runId: 'run' });
  }

  get logins(): boolean[] {
    return this.connector.logins.map((l) => l.ok);
  }
}

function account(id: string, overrides: Partial<AccountConfig> = {}): AccountConfig {
  const { username: _username, ...rest } = dovecotAccount(server, id, overrides);
  return rest;
}

function appOnlySecret(mailbox: string): string {
  return JSON.stringify({
    username: mailbox,
    oauth2: {
      type: 'client_credentials',
      tenantId: TENANT,
      tokenUrl: oauth.tokenUrl,
      clientId: APP.id,
      clientSecret: APP.secret,
    },
  });
}

function delegatedSecret(mailbox: string, refreshToken: string): Record<string, unknown> {
  return {
    username: mailbox,
    note: 'consented by the mailbox owner',
    oauth2: {
      type: 'refresh_token',
      tokenUrl: oauth.tokenUrl,
      clientId: DESKTOP.id,
      clientSecret: DESKTOP.secret,
      refreshToken,
    },
  };
}

/** Everything that must never appear in a result, an event or a warning. */
function secretValues(): string[] {
  return [
    APP.secret,
    DESKTOP.secret,
    ...USERS.map((u) => u.password),
    ...oauth.issuedAccessTokens,
    ...oauth.issuedAccessTokens.map((t) => Buffer.from(t).toString('base64')),
    ...[...secrets.values()].flatMap((s) => {
      const refresh = (JSON.parse(s) as { oauth2?: { refreshToken?: string } }).oauth2?.refreshToken;
      return refresh ? [refresh] : [];
    }),
  ];
}

function expectNoSecretIn(...values: unknown[]): void {
  const text = JSON.stringify(values);
  for (const secret of secretValues()) expect(text).not.toContain(secret);
}

describeWithDovecot('OAuth 2.0 logins against Dovecot with an oauth2 passdb', () => {
  beforeAll(async () => {
    oauth = await OAuthTestServer.start();
    server = await DovecotServer.start({
      users: USERS,
      oauth2: { introspectionUrl: oauth.introspectionUrl },
    });
  });

  afterAll(async () => {
    await server?.stop();
    await oauth?.stop();
  });

  beforeEach(() => {
    smMock.reset();
    installSecretsManager();
    secrets.clear();
    oauth.reset();
    oauth.registerClient(APP.id, APP.secret);
    oauth.registerClient(DESKTOP.id, DESKTOP.secret);
    for (const u of USERS) server.empty(u.name);
  });

  it('app-only (client credentials): two mailboxes of one app registration share one token over XOAUTH2', async () => {
    const [alice, bob] = USERS;
    for (const u of [alice!, bob!]) {
      oauth.grantMailbox(APP.id, u.name);
      secrets.set(`pop3/${u.name.split('@')[0]}`, appOnlySecret(u.name));
      server.deliver(makeMessages(3, { batch: u.name }), u.name);
    }
    const world = new World();

    const results = await pollAccounts([account('alice'), account('bob')], world.deps(), {
      runId: 'run',
      accountConcurrency: 1,
    });

    expect(results.map((r) => [r.accountId, r.status, r.archived, r.deleted])).toEqual([
      ['alice', 'ok', 3, 3],
      ['bob', 'ok', 3, 3],
    ]);
    expect(server.mailboxCount(alice!.name) + server.mailboxCount(bob!.name)).toBe(0);
    // One token request for both mailboxes: the Microsoft default scope, the client's own credentials.
    expect(oauth.tokenRequests).toEqual([
      {
        grant_type: 'client_credentials',
        client_id: APP.id,
        client_secret: APP.secret,
        scope: 'https://outlook.office365.com/.default',
      },
    ]);
    const token = oauth.issuedAccessTokens.at(-1);
    expect(oauth.introspected).toEqual([token, token]);
    expect(world.logins).toEqual([true, true]);
    // XOAUTH2 chosen from CAPA; the 1,200-character token does not fit the AUTH line (255 octets),
    // so it goes alone after the server's `+`, as Microsoft requires.
    const auth = world.trace.findIndex((e) => e.direction === 'client' && e.line.startsWith('AUTH '));
    expect(world.trace.slice(auth, auth + 3)).toEqual([
      { direction: 'client', line: 'AUTH XOAUTH2 [redacted]' },
      { direction: 'server', line: expect.stringMatching(/^\+ ?$/) },
      { direction: 'client', line: '[redacted SASL response]' },
    ]);
    expectNoSecretIn(results, world.events.events, world.trace);
  });

  it('app-only: a mailbox the app has no FullAccess on fails with EAUTH after one fresh token', async () => {
    const carol = USERS[2]!.name;
    secrets.set('pop3/carol', appOnlySecret(carol));
    const world = new World();

    const result = await world.run(account('carol'));

    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'EAUTH', retryable: false, needsAttention: true });
    expect(world.logins).toEqual([false, false]);
    expect(oauth.tokenRequests).toHaveLength(2);
    expectNoSecretIn(result);
  });

  it('delegated (refresh token) over OAUTHBEARER', async () => {
    const dave = USERS[3]!.name;
    secrets.set(
      'pop3/dave',
      JSON.stringify(delegatedSecret(dave, oauth.issueRefreshToken(DESKTOP.id, dave))),
    );
    const delivered = makeMessages(2, { batch: 'dave' });
    server.deliver(delivered, dave);
    const world = new World();

    const result = await world.run(account('dave', { authMethod: 'OAUTHBEARER', mode: 'keep' }));

    expect(result).toMatchObject({ status: 'ok', archived: 2, deleted: 0 });
    expect(
      archivedNumbers(
        { server, archive: world.archive, events: world.events, accountId: 'dave', user: dave },
        delivered,
      ),
    ).toEqual([1, 2]);
    expect(oauth.tokenRequests.map((r) => r.grant_type)).toEqual(['refresh_token']);
    // No rotation: the secret is not written.
    expect(smMock).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
  });

  it('expired token → refresh → success, the rotated refresh token written back into the secret', async () => {
    const alice = USERS[0]!.name;
    oauth.rotateRefreshTokens = true;
    const original = delegatedSecret(alice, oauth.issueRefreshToken(DESKTOP.id, alice));
    secrets.set('pop3/alice', JSON.stringify(original));
    const world = new World();

    server.deliver(makeMessages(2, { batch: 'first' }), alice);
    const first = await world.run(account('alice'));
    expect(first).toMatchObject({ status: 'ok', archived: 2 });
    expect(world.logins).toEqual([true]);
    const afterFirst = JSON.parse(secrets.get('pop3/alice')!) as typeof original & {
      oauth2: { refreshToken: string };
    };
    // Only the refresh token changed; every other field (and its order) is as it was.
    expect(afterFirst).toEqual({
      ...original,
      oauth2: { ...(original.oauth2 as object), refreshToken: afterFirst.oauth2.refreshToken },
    });
    expect(Object.keys(afterFirst)).toEqual(Object.keys(original));
    expect(afterFirst.oauth2.refreshToken).not.toBe(
      (original.oauth2 as { refreshToken: string }).refreshToken,
    );

    // The cached access token stops working before its time (revoked, or the clock was off).
    oauth.expireAccessTokens();
    server.deliver(makeMessages(3, { batch: 'second' }), alice);
    const second = await world.run(account('alice'));

    expect(second).toMatchObject({ status: 'ok', archived: 3, deleted: 3 });
    expect(world.logins).toEqual([false, true]);
    // First run: one refresh. Second run: the cached token was tried, then one refresh with the
    // refresh token the first run stored.
    expect(oauth.tokenRequests.map((r) => r.refresh_token)).toEqual([
      (original.oauth2 as { refreshToken: string }).refreshToken,
      afterFirst.oauth2.refreshToken,
    ]);
    expect(smMock).toHaveReceivedCommandTimes(PutSecretValueCommand, 2);
    const puts = smMock.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input);
    expect(puts.every((p) => p.SecretId === 'pop3/alice')).toBe(true);
    expect(world.warnings).toEqual([]);
    expectNoSecretIn(first, second, world.events.events);
  });

  it('revoked access: the fresh token is rejected too → EAUTH needing attention, exactly one retry', async () => {
    const bob = USERS[1]!.name;
    secrets.set('pop3/bob', JSON.stringify(delegatedSecret(bob, oauth.issueRefreshToken(DESKTOP.id, bob))));
    server.deliver(makeMessages(1, { batch: 'bob' }), bob);
    oauth.revokeUser(bob);
    const world = new World();

    const result = await world.run(account('bob'));

    expect(result).toMatchObject({ status: 'failed', fetched: 0, deleted: 0 });
    expect(result.error).toMatchObject({ code: 'EAUTH', retryable: false, needsAttention: true });
    expect(world.logins).toEqual([false, false]);
    expect(oauth.tokenRequests).toHaveLength(2);
    expect(oauth.introspected).toHaveLength(2);
    expect(server.mailboxCount(bob)).toBe(1);
    expectNoSecretIn(result);
  });

  it('a revoked refresh token is a credential problem needing attention, with no secret in it', async () => {
    const carol = USERS[2]!.name;
    const refreshToken = oauth.issueRefreshToken(DESKTOP.id, carol);
    secrets.set('pop3/carol', JSON.stringify(delegatedSecret(carol, refreshToken)));
    const world = new World();
    const first = await world.run(account('carol', { mode: 'keep' }));
    expect(first.status).toBe('ok');

    oauth.expireAccessTokens();
    oauth.revokeRefreshToken(refreshToken);
    const second = await world.run(account('carol', { mode: 'keep' }));

    expect(second.status).toBe('failed');
    expect(second.error).toMatchObject({ code: 'ECREDENTIALS', retryable: false, needsAttention: true });
    expect(second.error!.message).toContain('invalid_grant');
    expect(second.error!.message).toContain('secret "pop3/carol"');
    // The cached token was tried once; the refresh failed, so there was nothing to retry with.
    expect(world.logins).toEqual([false]);
    expectNoSecretIn(second);
  });

  it('a static access token that is rejected is reported at once: nothing to refresh, no retry', async () => {
    const dave = USERS[3]!.name;
    const token = oauth.mintAccessToken(DESKTOP.id, dave);
    secrets.set('pop3/dave', JSON.stringify({ username: dave, accessToken: token }));
    const world = new World();
    expect((await world.run(account('dave', { mode: 'keep' }))).status).toBe('ok');

    oauth.expireAccessTokens();
    const result = await world.run(account('dave', { mode: 'keep' }));

    expect(result.error).toMatchObject({ code: 'EAUTH', needsAttention: true });
    expect(world.logins).toEqual([false]);
    expect(oauth.tokenRequests).toHaveLength(0);
  });

  it('password users still log in beside OAuth2, and a password offered as a token does not', async () => {
    const alice = USERS[0]!;
    secrets.set('pop3/alice', JSON.stringify({ username: alice.name, password: alice.password }));
    secrets.set('pop3/alice-token', JSON.stringify({ username: alice.name, accessToken: alice.password }));
    const world = new World();

    const byPassword = await world.run(account('alice'));
    const byToken = await world.run(account('alice-token'));

    expect(byPassword.status).toBe('ok');
    expect(byToken.error).toMatchObject({ code: 'EAUTH' });
  });

  it('the CLI: a secretFile with a refresh token logs in over XOAUTH2 and keeps the rotated refresh token', async () => {
    const dave = USERS[3]!.name;
    oauth.rotateRefreshTokens = true;
    const refreshToken = oauth.issueRefreshToken(DESKTOP.id, dave);
    const work = mkdtempSync(join(tmpdir(), 'cli-oauth2-'));
    try {
      writeFileSync(join(work, 'dave.json'), JSON.stringify(delegatedSecret(dave, refreshToken)), {
        mode: 0o600,
      });
      writeFileSync(
        join(work, 'poller.json'),
        JSON.stringify({
          accounts: [
            {
              id: 'dave',
              host: server.host,
              port: server.tlsPort,
              username: dave,
              secretFile: 'dave.json',
              caFile: server.certs.caFile,
            },
          ],
          archive: { dir: './archive' },
          events: { file: './events.jsonl' },
        }),
      );
      server.deliver(makeMessages(2, { batch: 'cli' }), dave);

      const run = await runCli(['poll', '--config', join(work, 'poller.json')]);

      expect(run.stderr).toMatch(/dave\s+ok\s+fetched 2\s+archived 2\s+deleted 2/);
      expect(run.code).toBe(0);
      expect(server.mailboxCount(dave)).toBe(0);
      const stored = JSON.parse(readFileSync(join(work, 'dave.json'), 'utf8')) as {
        oauth2: { refreshToken: string };
      };
      expect(oauth.tokenRequests.map((r) => r.refresh_token)).toEqual([refreshToken]);
      expect(stored.oauth2.refreshToken).not.toBe(refreshToken);
      expect(stored).toEqual({
        ...delegatedSecret(dave, refreshToken),
        oauth2: {
          ...(delegatedSecret(dave, refreshToken).oauth2 as object),
          refreshToken: stored.oauth2.refreshToken,
        },
      });
      for (const secret of [
        DESKTOP.secret,
        refreshToken,
        stored.oauth2.refreshToken,
        ...oauth.issuedAccessTokens,
      ]) {
        expect(run.stdout + run.stderr).not.toContain(secret);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

const ROOT = resolve(__dirname, '../../..');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'functions/cli/main.ts'), ...args], {
      cwd: ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}
