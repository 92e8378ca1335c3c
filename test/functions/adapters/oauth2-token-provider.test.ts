import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CredentialError } from '../../../functions/adapters/errors';
import {
  microsoftTokenUrl,
  parseOAuth2Settings,
  type ClientCredentialsGrant,
  type OAuth2Grant,
  type RefreshTokenGrant,
} from '../../../functions/adapters/oauth2';
import { OAuth2TokenProvider } from '../../../functions/adapters/oauth2-token-provider';
import { OAuthTestServer } from '../../support/oauth-server';

/**
 * The token provider against the suite's own token endpoint (node:http on 127.0.0.1), with a
 * clock the tests move. Microsoft's real endpoint is never called: where its URL matters, `fetch`
 * is a stub that records the request.
 */

const APP = { id: 'app-0f3c', secret: 'Zq7-client-secret~with/odd+chars=' };
const OTHER_APP = { id: 'app-77aa', secret: 'Zq7-other-client-secret' };

let oauth: OAuthTestServer;
let now: number;
const clock = () => now;

function provider(options: ConstructorParameters<typeof OAuth2TokenProvider>[0] = {}): OAuth2TokenProvider {
  return new OAuth2TokenProvider({ now: clock, ...options });
}

function appGrant(overrides: Partial<ClientCredentialsGrant> = {}): ClientCredentialsGrant {
  return {
    type: 'client_credentials',
    tokenUrl: oauth.tokenUrl,
    clientId: APP.id,
    clientSecret: APP.secret,
    scope: 'https://outlook.office365.com/.default',
    ...overrides,
  };
}

function userGrant(refreshToken: string, overrides: Partial<RefreshTokenGrant> = {}): RefreshTokenGrant {
  return {
    type: 'refresh_token',
    tokenUrl: oauth.tokenUrl,
    clientId: APP.id,
    clientSecret: APP.secret,
    refreshToken,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<CredentialError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CredentialError);
  return error as CredentialError;
}

/** Nothing secret in the error: message, stack, cause chain, or any own property. */
function expectNoSecrets(error: Error, secrets: readonly string[]): void {
  const seen = new Set<unknown>();
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    parts.push(e.message, e.stack ?? '', JSON.stringify(e), JSON.stringify(Object.entries(e)));
  }
  const text = parts.join('\n');
  for (const secret of secrets) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
  }
}

beforeAll(async () => {
  oauth = await OAuthTestServer.start();
});

afterAll(async () => {
  await oauth.stop();
});

beforeEach(() => {
  now = Date.parse('2025-03-04T12:00:00Z');
  oauth.reset();
  oauth.registerClient(APP.id, APP.secret);
  oauth.registerClient(OTHER_APP.id, OTHER_APP.secret);
});

describe('Class: OAuth2TokenProvider', () => {
  describe('client credentials (Microsoft 365 app-only)', () => {
    it('POSTs a form-encoded grant with the client id, secret and scope, and returns the access token', async () => {
      const token = await provider().accessToken(appGrant());

      expect(token).toBe(oauth.issuedAccessTokens.at(-1));
      expect(oauth.tokenRequests).toEqual([
        {
          grant_type: 'client_credentials',
          client_id: APP.id,
          client_secret: APP.secret,
          scope: 'https://outlook.office365.com/.default',
        },
      ]);
    });

    it("builds Microsoft's token URL from the tenant and defaults the scope to Exchange Online's", async () => {
      const requests: Array<{ url: string; init: RequestInit }> = [];
      const fetchStub: typeof fetch = async (url, init) => {
        requests.push({ url: String(url), init: init! });
        return new Response(
          JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: 'eyJ0.x.y' }),
          {
            status: 200,
            headers: { 'content-type': 'application/json' },
          },
        );
      };
      const parsed = parseOAuth2Settings({
        type: 'client_credentials',
        tenantId: 'contoso.onmicrosoft.com',
        clientId: APP.id,
        clientSecret: APP.secret,
      });
      expect(parsed).toHaveProperty('grant');

      await provider({ fetch: fetchStub }).accessToken((parsed as { grant: OAuth2Grant }).grant);

      expect(requests).toHaveLength(1);
      expect(requests[0]!.url).toBe(
        'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
      );
      expect(microsoftTokenUrl('8f0c6a1e-0000-4000-8000-000000000001')).toBe(
        'https://login.microsoftonline.com/8f0c6a1e-0000-4000-8000-000000000001/oauth2/v2.0/token',
      );
      const init = requests[0]!.init;
      expect(init.method).toBe('POST');
      expect(init.headers).toMatchObject({ 'content-type': 'application/x-www-form-urlencoded' });
      expect(Object.fromEntries(init.body as URLSearchParams)).toEqual({
        grant_type: 'client_credentials',
        client_id: APP.id,
        client_secret: APP.secret,
        scope: 'https://outlook.office365.com/.default',
      });
    });

    it('shares one token between the mailboxes of one app registration, and one request between concurrent callers', async () => {
      const tokens = provider();

      const answers = await Promise.all(Array.from({ length: 5 }, () => tokens.accessToken(appGrant())));
      // Another mailbox, another secret document, the same app registration.
      const again = await tokens.accessToken({ ...appGrant() });

      expect(new Set([...answers, again]).size).toBe(1);
      expect(oauth.tokenRequests).toHaveLength(1);
    });

    it('keeps apps, tenants, scopes and client secrets apart', async () => {
      const tokens = provider();

      const distinct = await Promise.all([
        tokens.accessToken(appGrant()),
        tokens.accessToken(appGrant({ clientId: OTHER_APP.id, clientSecret: OTHER_APP.secret })),
        tokens.accessToken(appGrant({ tokenUrl: `${oauth.tokenUrl}?tenant=fabrikam` })),
        tokens.accessToken(appGrant({ scope: 'https://outlook.office365.us/.default' })),
      ]);
      // A mailbox whose secret still holds an old client secret gets no token on the strength of another's.
      const stale = await failure(tokens.accessToken(appGrant({ clientSecret: 'Zq7-expired-secret' })));

      expect(new Set(distinct).size).toBe(4);
      expect(oauth.tokenRequests).toHaveLength(5);
      expect(stale).toMatchObject({ reason: 'token-rejected', retryable: false });
    });
  });

  describe('expiry', () => {
    it('reuses a token until 5 minutes before it expires, then fetches a new one', async () => {
      oauth.expiresIn = 3600;
      const tokens = provider();
      const first = await tokens.accessToken(appGrant());

      now += 55 * 60_000 - 1;
      expect(await tokens.accessToken(appGrant())).toBe(first);
      now += 1;
      const second = await tokens.accessToken(appGrant());

      expect(second).not.toBe(first);
      expect(oauth.tokenRequests).toHaveLength(2);
    });

    it('keeps a short-lived token for half its lifetime', async () => {
      oauth.expiresIn = 120;
      const tokens = provider();
      const first = await tokens.accessToken(appGrant());

      now += 59_999;
      expect(await tokens.accessToken(appGrant())).toBe(first);
      now += 1;
      expect(await tokens.accessToken(appGrant())).not.toBe(first);
    });

    it('takes expires_in as a string of digits (Microsoft v1) and assumes an hour when it is missing', async () => {
      oauth.respondNext(
        { status: 200, body: { token_type: 'Bearer', access_token: 'tok-a', expires_in: '600' } },
        { status: 200, body: { token_type: 'bearer', access_token: 'tok-b' } },
      );
      const tokens = provider();
      expect(await tokens.accessToken(appGrant())).toBe('tok-a');
      now += 5 * 60_000 - 1;
      expect(await tokens.accessToken(appGrant())).toBe('tok-a');
      now += 1;
      expect(await tokens.accessToken(appGrant())).toBe('tok-b');
      now += 55 * 60_000 - 1;
      expect(await tokens.accessToken(appGrant())).toBe('tok-b');
      expect(oauth.tokenRequests).toHaveLength(2);
    });
  });

  describe('a token the server rejected', () => {
    it('is dropped and replaced by a new one', async () => {
      const tokens = provider();
      const first = await tokens.accessToken(appGrant());

      const fresh = await tokens.accessToken(appGrant(), { rejected: first });

      expect(fresh).not.toBe(first);
      expect(await tokens.accessToken(appGrant())).toBe(fresh);
      expect(oauth.tokenRequests).toHaveLength(2);
    });

    it('is not fetched again when another caller already replaced it (no storm)', async () => {
      const tokens = provider();
      const first = await tokens.accessToken(appGrant());

      // Two mailboxes had the same token rejected at the same time.
      const [a, b] = await Promise.all([
        tokens.accessToken(appGrant(), { rejected: first }),
        tokens.accessToken(appGrant(), { rejected: first }),
      ]);
      const late = await tokens.accessToken(appGrant(), { rejected: first });

      expect(a).toBe(b);
      expect(late).toBe(a);
      expect(oauth.tokenRequests).toHaveLength(2);
    });
  });

  describe('refresh tokens (delegated access)', () => {
    it('sends the refresh grant (scope only when given) and reports a rotated refresh token once', async () => {
      oauth.rotateRefreshTokens = true;
      const refreshToken = oauth.issueRefreshToken(APP.id, 'alice@example.com');
      const rotated: string[] = [];
      const tokens = provider();

      const token = await tokens.accessToken(userGrant(refreshToken), {
        onRefreshTokenRotated: (next) => {
          rotated.push(next);
        },
      });
      await tokens.accessToken(userGrant(refreshToken), {
        onRefreshTokenRotated: (n) => void rotated.push(n),
      });

      expect(token).toBe(oauth.issuedAccessTokens.at(-1));
      expect(oauth.tokenRequests).toEqual([
        {
          grant_type: 'refresh_token',
          client_id: APP.id,
          client_secret: APP.secret,
          refresh_token: refreshToken,
        },
      ]);
      expect(rotated).toHaveLength(1);
      expect(rotated[0]).not.toBe(refreshToken);
      // The grant's owner now presents the new refresh token: still the cached access token.
      expect(await tokens.accessToken(userGrant(rotated[0]!))).toBe(token);
      expect(oauth.tokenRequests).toHaveLength(1);
    });

    it('keeps one user apart from another, and sends the scope and no secret for a public client', async () => {
      oauth.registerClient('public-app', undefined);
      const alice = oauth.issueRefreshToken('public-app', 'alice@example.com');
      const bob = oauth.issueRefreshToken('public-app', 'bob@example.com');
      const tokens = provider();
      const scope = 'https://outlook.office.com/POP.AccessAsUser.All offline_access';

      const a = await tokens.accessToken(
        userGrant(alice, { clientId: 'public-app', clientSecret: undefined, scope }),
      );
      const b = await tokens.accessToken(userGrant(bob, { clientId: 'public-app', clientSecret: undefined }));

      expect(a).not.toBe(b);
      expect(oauth.tokenRequests[0]).toEqual({
        grant_type: 'refresh_token',
        client_id: 'public-app',
        refresh_token: alice,
        scope,
      });
      expect(oauth.tokenRequests[1]).not.toHaveProperty('client_secret');
    });

    it('returns the token even when storing the rotated refresh token fails', async () => {
      oauth.rotateRefreshTokens = true;
      const refreshToken = oauth.issueRefreshToken(APP.id, 'alice@example.com');

      const token = await provider().accessToken(userGrant(refreshToken), {
        onRefreshTokenRotated: async () => {
          throw new Error('PutSecretValue failed');
        },
      });

      expect(token).toBe(oauth.issuedAccessTokens.at(-1));
    });
  });

  describe('errors: clear, classified, and free of secrets', () => {
    const REFRESH_TOKEN = 'Zq7-refresh-token-0123456789';

    it('invalid_grant (refresh token expired or revoked) is token-rejected, not retryable, with a hint', async () => {
      oauth.issueRefreshToken(APP.id, 'alice@example.com');

      const error = await failure(provider().accessToken(userGrant(REFRESH_TOKEN)));

      expect(error).toMatchObject({ code: 'ECREDENTIALS', reason: 'token-rejected', retryable: false });
      expect(error.message).toBe(
        `token endpoint ${oauth.tokenUrl} refused the refresh_token grant for client ${APP.id} ` +
          '(HTTP 400 invalid_grant: Token has been expired or revoked.); the refresh token is expired ' +
          'or revoked: obtain a new one (docs/oauth2.md)',
      );
      expectNoSecrets(error, [APP.secret, REFRESH_TOKEN]);
    });

    it('invalid_client (wrong or expired client secret) is token-rejected, not retryable', async () => {
      const error = await failure(provider().accessToken(appGrant({ clientSecret: 'Zq7-wrong-secret' })));

      expect(error).toMatchObject({ reason: 'token-rejected', retryable: false });
      expect(error.message).toContain('HTTP 401 invalid_client');
      expect(error.message).toContain('check clientId and clientSecret');
      expectNoSecrets(error, ['Zq7-wrong-secret']);
    });

    it('cuts the client secret and refresh token out of an endpoint description that echoes them', async () => {
      oauth.respondNext({
        status: 400,
        body: {
          error: 'invalid_request',
          error_description: `bad request body: client_secret=${encodeURIComponent(APP.secret)}&refresh_token=${REFRESH_TOKEN} (secret ${APP.secret})`,
        },
      });

      const error = await failure(provider().accessToken(userGrant(REFRESH_TOKEN)));

      expect(error.message).toContain(
        'client_secret=[redacted]&refresh_token=[redacted] (secret [redacted])',
      );
      expectNoSecrets(error, [APP.secret, REFRESH_TOKEN]);
    });

    it.each([
      [500, { error: 'server_error' }],
      [503, 'Service Unavailable'],
      [429, { error: 'too_many_requests' }],
      [400, { error: 'temporarily_unavailable' }],
    ])('HTTP %s is unavailable and retryable', async (status, body) => {
      oauth.respondNext({ status, body, raw: typeof body === 'string' });

      const error = await failure(provider().accessToken(appGrant()));

      expect(error).toMatchObject({ reason: 'unavailable', retryable: true });
      expectNoSecrets(error, [APP.secret]);
    });

    it('a refused connection is unavailable and retryable; the failure is not cached', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const tokens = provider();

      const error = await failure(
        tokens.accessToken(appGrant({ tokenUrl: `http://127.0.0.1:${port}/token` })),
      );

      expect(error).toMatchObject({ reason: 'unavailable', retryable: true });
      expect(error.message).toBe(
        `token endpoint http://127.0.0.1:${port}/token could not be reached (ECONNREFUSED)`,
      );
      expect(error.cause).toBeUndefined();
      // The endpoint is back: the next call asks again.
      oauth.respondNext({ status: 500, body: {} });
      await failure(tokens.accessToken(appGrant()));
      expect(await tokens.accessToken(appGrant())).toBe(oauth.issuedAccessTokens.at(-1));
    });

    it('an endpoint that does not answer in time is unavailable', async () => {
      const silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/token`;
      try {
        const error = await failure(provider({ timeoutMs: 200 }).accessToken(appGrant({ tokenUrl: url })));

        expect(error).toMatchObject({ reason: 'unavailable', retryable: true });
        expect(error.message).toBe(`token endpoint ${url} did not answer in time`);
      } finally {
        silent.closeAllConnections();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it.each([
      ['an HTML page', '<html>Sign in</html>', true],
      ['JSON without access_token', { token_type: 'Bearer', expires_in: 3600 }, false],
      ['a token with a line break', { token_type: 'Bearer', access_token: 'abc\r\ndef' }, false],
    ])('a 200 with %s is invalid, not retryable', async (_what, body, raw) => {
      oauth.respondNext({ status: 200, body, raw });

      const error = await failure(provider().accessToken(appGrant()));

      expect(error).toMatchObject({ reason: 'invalid', retryable: false });
      expect(error.message).toContain('without a usable access_token');
      expect(error.message).not.toContain('abc');
    });

    it('refuses a token type other than Bearer', async () => {
      oauth.respondNext({ status: 200, body: { token_type: 'mac', access_token: 'Zq7-mac-token' } });

      const error = await failure(provider().accessToken(appGrant()));

      expect(error.message).toContain('issued a token of type "mac", not Bearer');
      expectNoSecrets(error, ['Zq7-mac-token']);
    });

    it('does not follow redirects (the body holds the client secret)', async () => {
      const redirect = createServer((_req, res) => {
        res.writeHead(307, { location: oauth.tokenUrl });
        res.end();
      });
      await new Promise<void>((resolve) => redirect.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(redirect.address() as AddressInfo).port}/token`;
      try {
        const error = await failure(provider().accessToken(appGrant({ tokenUrl: url })));

        expect(error).toMatchObject({ reason: 'unavailable' });
        expect(oauth.tokenRequests).toHaveLength(0);
      } finally {
        await new Promise((resolve) => redirect.close(resolve));
      }
    });
  });
});

describe('Function: parseOAuth2Settings', () => {
  const base = {
    type: 'client_credentials',
    tenantId: 'contoso.onmicrosoft.com',
    clientId: 'c',
    clientSecret: 'Zq7-s',
  };

  it('fills in the Microsoft token URL and scope for client credentials', () => {
    expect(parseOAuth2Settings(base)).toEqual({
      grant: {
        type: 'client_credentials',
        tokenUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
        clientId: 'c',
        clientSecret: 'Zq7-s',
        scope: 'https://outlook.office365.com/.default',
      },
    });
  });

  it('keeps an explicit token URL and scope (sovereign clouds, tests)', () => {
    expect(
      parseOAuth2Settings({
        ...base,
        tokenUrl: 'https://login.microsoftonline.us/t/oauth2/v2.0/token',
        scope: 'x',
      }),
    ).toMatchObject({
      grant: { tokenUrl: 'https://login.microsoftonline.us/t/oauth2/v2.0/token', scope: 'x' },
    });
  });

  it.each([
    [
      'not an object',
      'Zq7',
      'oauth2',
      'must be an object with "type": "client_credentials" or "refresh_token"',
    ],
    [
      'unknown type',
      { ...base, type: 'password' },
      'oauth2.type',
      'must be "client_credentials" or "refresh_token"',
    ],
    ['no client id', { ...base, clientId: undefined }, 'oauth2.clientId', 'is required'],
    ['numeric secret', { ...base, clientSecret: 7777 }, 'oauth2.clientSecret', 'must be a non-empty string'],
    ['no client secret', { ...base, clientSecret: undefined }, 'oauth2.clientSecret', 'is required'],
    ['no tenant', { ...base, tenantId: undefined }, 'oauth2.tenantId', 'is required (or "tokenUrl")'],
    [
      'bad tenant',
      { ...base, tenantId: 'a/b?Zq7' },
      'oauth2.tenantId',
      'must be a directory (tenant) id or a domain name',
    ],
    [
      'http token URL',
      { ...base, tokenUrl: 'http://login.example.com/token' },
      'oauth2.tokenUrl',
      'must be an https URL (plain http only to a loopback address)',
    ],
    [
      'token URL with credentials',
      { ...base, tokenUrl: 'https://u:Zq7@login.example.com/token' },
      'oauth2.tokenUrl',
      'must be an https URL (plain http only to a loopback address)',
    ],
    [
      'refresh without refresh token',
      { type: 'refresh_token', clientId: 'c', tokenUrl: 'https://oauth2.googleapis.com/token' },
      'oauth2.refreshToken',
      'is required',
    ],
    [
      'refresh without token URL',
      { type: 'refresh_token', clientId: 'c', refreshToken: 'Zq7-r' },
      'oauth2.tokenUrl',
      'is required',
    ],
  ])('%s', (_name, value, field, rule) => {
    expect(parseOAuth2Settings(value)).toEqual({ problem: { field, rule } });
  });

  it('accepts plain http to a loopback address only', () => {
    for (const url of ['http://127.0.0.1:8080/token', 'http://localhost/token', 'http://[::1]:9/t']) {
      expect(parseOAuth2Settings({ ...base, tokenUrl: url })).toHaveProperty('grant');
    }
  });
});
