import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CredentialError } from '../../../functions/adapters/errors';
import type { OAuth2Grant, TokenProvider, TokenRequest } from '../../../functions/adapters/oauth2';
import {
  SecretsManagerCredentials,
  type SecretIdResolver,
} from '../../../functions/adapters/secrets-manager-credentials';
import type { AccountConfig } from '../../../functions/poller/account';

const smMock = mockClient(SecretsManagerClient);
const SECRET_ID = 'pop3/support';
/** Distinctive, so a test can tell whether any error message carries it. */
const PASSWORD = 'Zq7-hunter2-DO-NOT-LEAK';

const support: AccountConfig = { id: 'support' };
const sales: AccountConfig = { id: 'sales', username: 'sales@example.com' };

function credentials(resolver: SecretIdResolver = { support: SECRET_ID, sales: 'pop3/sales' }) {
  return new SecretsManagerCredentials(new SecretsManagerClient({ region: 'eu-west-1' }), resolver);
}

function secretIs(value: unknown): void {
  smMock.on(GetSecretValueCommand).resolves({ Name: SECRET_ID, SecretString: JSON.stringify(value) });
}

function serviceError(name: string, httpStatusCode: number): SecretsManagerServiceException {
  return new SecretsManagerServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `${name} from the test`,
  });
}

async function failure(promise: Promise<unknown>): Promise<CredentialError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CredentialError);
  return error as CredentialError;
}

beforeEach(() => smMock.reset());

describe('Class: SecretsManagerCredentials', () => {
  it('reads the secret named for the account and returns its settings and password', async () => {
    secretIs({
      host: 'pop.example.com',
      port: 995,
      tls: 'implicit',
      username: 'support@example.com',
      password: PASSWORD,
    });

    await expect(credentials().credentials(support)).resolves.toEqual({
      host: 'pop.example.com',
      port: 995,
      tls: 'implicit',
      username: 'support@example.com',
      password: PASSWORD,
    });
    expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(smMock.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: SECRET_ID });
  });

  it('accepts an access token instead of a password, and ignores unknown fields', async () => {
    secretIs({
      username: 'u@example.com',
      accessToken: 'tok',
      note: 'x',
      rotation: { owner: 'ops' },
    });

    await expect(credentials().credentials(support)).resolves.toEqual({
      username: 'u@example.com',
      accessToken: 'tok',
    });
  });

  it('accepts a port given as a string of digits (the console stores every value as a string)', async () => {
    secretIs({ username: 'u', password: PASSWORD, port: '1995', tls: 'starttls' });

    await expect(credentials().credentials(support)).resolves.toMatchObject({ port: 1995, tls: 'starttls' });
  });

  it('takes the username from the account configuration when the secret has none', async () => {
    secretIs({ password: PASSWORD });

    await expect(credentials().credentials(sales)).resolves.toEqual({
      username: 'sales@example.com',
      password: PASSWORD,
    });
  });

  it('prefers the secret username over the account configuration', async () => {
    secretIs({ username: 'from-secret', password: PASSWORD });

    await expect(credentials().credentials(sales)).resolves.toMatchObject({ username: 'from-secret' });
  });

  describe('account to secret id', () => {
    it('accepts a function', async () => {
      secretIs({ username: 'u', password: PASSWORD });

      await credentials(
        (id) => `arn:aws:secretsmanager:eu-west-1:111122223333:secret:pop3/${id}`,
      ).credentials(support);

      expect(smMock).toHaveReceivedCommandWith(GetSecretValueCommand, {
        SecretId: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:pop3/support',
      });
    });

    it('accepts a Map', async () => {
      secretIs({ username: 'u', password: PASSWORD });

      await credentials(new Map([['support', 'from-map']])).credentials(support);

      expect(smMock).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'from-map' });
    });

    it('fails without a request for an account with no secret configured', async () => {
      const error = await failure(credentials({ support: SECRET_ID }).credentials({ id: 'toString' }));

      expect(error).toMatchObject({ code: 'ECREDENTIALS', reason: 'not-found', retryable: false });
      expect(error.message).toBe('no secret is configured for account "toString"');
      expect(smMock.calls()).toHaveLength(0);
    });
  });

  describe('caching', () => {
    it('fetches a secret once per instance, however often and concurrently it is asked for', async () => {
      secretIs({ username: 'u', password: PASSWORD });
      const source = credentials();

      const answers = await Promise.all([source.credentials(support), source.credentials(support)]);
      await source.credentials(support);

      expect(answers[0]).toEqual(answers[1]);
      expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    });

    it('fetches each secret separately', async () => {
      secretIs({ username: 'u', password: PASSWORD });
      const source = credentials();

      await source.credentials(support);
      await source.credentials(sales);

      expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
      expect(smMock).toHaveReceivedNthCommandWith(2, GetSecretValueCommand, { SecretId: 'pop3/sales' });
    });

    it('does not keep a failure: the next call asks again', async () => {
      smMock
        .on(GetSecretValueCommand)
        .rejectsOnce(serviceError('ThrottlingException', 400))
        .resolves({ SecretString: JSON.stringify({ username: 'u', password: PASSWORD }) });
      const source = credentials();

      await expect(source.credentials(support)).rejects.toMatchObject({ retryable: true });
      await expect(source.credentials(support)).resolves.toMatchObject({ password: PASSWORD });
      expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    });

    it('a new instance (a new run) fetches again', async () => {
      secretIs({ username: 'u', password: PASSWORD });

      await credentials().credentials(support);
      await credentials().credentials(support);

      expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    });
  });

  describe('invalid secrets: the message names the secret and the field, never a value', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['empty host', { host: '' }, 'field "host" must be a non-empty string'],
      ['numeric host', { host: 12345 }, 'field "host" must be a non-empty string'],
      ['port out of range', { port: 70000 }, 'field "port" must be an integer 1-65535'],
      ['port zero', { port: 0 }, 'field "port" must be an integer 1-65535'],
      ['fractional port', { port: 99.5 }, 'field "port" must be an integer 1-65535'],
      ['port with letters', { port: '995-Zq7' }, 'field "port" must be an integer 1-65535'],
      ['port as a string out of range', { port: '99999' }, 'field "port" must be an integer 1-65535'],
      ['unknown tls', { tls: 'ssl-Zq7-leak' }, 'field "tls" must be one of "implicit", "starttls", "none"'],
      ['numeric username', { username: 42424242 }, 'field "username" must be a non-empty string'],
      ['empty password', { password: '' }, 'field "password" must be a non-empty string'],
      ['numeric password', { password: 73737373 }, 'field "password" must be a non-empty string'],
      [
        'object access token',
        { accessToken: { value: PASSWORD } },
        'field "accessToken" must be a non-empty string',
      ],
    ];

    it.each(cases)('%s', async (_name, override, expected) => {
      // Always a good password beside the bad field, unless the bad field is the password.
      secretIs({ username: 'u', password: PASSWORD, ...override });

      const error = await failure(credentials().credentials(support));

      expect(error.message).toBe(`secret "${SECRET_ID}": ${expected}`);
      expect(error).toMatchObject({ code: 'ECREDENTIALS', reason: 'invalid', retryable: false });
      expect(error.message).not.toContain('Zq7');
      for (const value of Object.values(override)) expect(error.message).not.toContain(JSON.stringify(value));
      // Nothing else to log either: no cause to carry the parsed value along.
      expect(error.cause).toBeUndefined();
    });

    it('requires a password, an access token or oauth2 settings', async () => {
      secretIs({ username: 'u', host: 'pop.example.com' });

      const error = await failure(credentials().credentials(support));

      expect(error.message).toBe(
        `secret "${SECRET_ID}": field "password", "accessToken" or "oauth2" is required`,
      );
    });

    it('requires a username in the secret or the account configuration', async () => {
      secretIs({ password: PASSWORD });

      const error = await failure(credentials().credentials(support));

      expect(error.message).toMatch(/^secret "pop3\/support": field "username" is required/);
      expect(error.message).not.toContain(PASSWORD);
    });

    it('rejects a SecretString that is not JSON without quoting it', async () => {
      smMock.on(GetSecretValueCommand).resolves({ SecretString: `password=${PASSWORD}` });

      const error = await failure(credentials().credentials(support));

      expect(error.message).toBe(`secret "${SECRET_ID}": SecretString is not valid JSON`);
      expect(error.cause).toBeUndefined();
    });

    it.each([
      ['an array', [PASSWORD]],
      ['a string', PASSWORD],
      ['null', null],
      ['a number', 42],
    ])('rejects JSON that is not an object: %s', async (_kind, json) => {
      secretIs(json);

      const error = await failure(credentials().credentials(support));

      expect(error.message).toBe(`secret "${SECRET_ID}": SecretString must be a JSON object`);
    });

    it('rejects a binary secret', async () => {
      smMock.on(GetSecretValueCommand).resolves({ SecretBinary: Buffer.from(PASSWORD) });

      const error = await failure(credentials().credentials(support));

      expect(error.message).toBe(
        `secret "${SECRET_ID}" has no SecretString (binary secrets are not supported)`,
      );
      expect(error.message).not.toContain('Zq7');
    });
  });

  describe('service errors', () => {
    it('says the secret was not found, not retryable', async () => {
      smMock.on(GetSecretValueCommand).rejects(serviceError('ResourceNotFoundException', 400));

      const error = await failure(credentials().credentials(support));

      expect(error).toMatchObject({ code: 'ECREDENTIALS', reason: 'not-found', retryable: false });
      expect(error.message).toBe(`secret "${SECRET_ID}" not found`);
      expect(error.cause).toBeInstanceOf(SecretsManagerServiceException);
    });

    it('says access was denied, not retryable', async () => {
      smMock.on(GetSecretValueCommand).rejects(serviceError('AccessDeniedException', 400));

      const error = await failure(credentials().credentials(support));

      expect(error).toMatchObject({ code: 'ECREDENTIALS', reason: 'access-denied', retryable: false });
      expect(error.message).toMatch(/^access denied to secret "pop3\/support"/);
    });

    it('treats a KMS decryption failure as access denied', async () => {
      smMock.on(GetSecretValueCommand).rejects(serviceError('DecryptionFailure', 400));

      await expect(credentials().credentials(support)).rejects.toMatchObject({
        reason: 'access-denied',
        retryable: false,
      });
    });

    it('marks throttling and service errors as retryable', async () => {
      smMock.on(GetSecretValueCommand).rejects(serviceError('ThrottlingException', 400));
      await expect(credentials().credentials(support)).rejects.toMatchObject({
        reason: 'unavailable',
        retryable: true,
      });

      smMock.on(GetSecretValueCommand).rejects(serviceError('InternalServiceError', 500));
      const error = await failure(credentials().credentials(support));
      expect(error).toMatchObject({ reason: 'unavailable', retryable: true });
      expect(error.message).toBe(
        `reading secret "${SECRET_ID}" failed: InternalServiceError: InternalServiceError from the test`,
      );
    });

    it('treats other client errors (a secret scheduled for deletion) as not retryable', async () => {
      smMock.on(GetSecretValueCommand).rejects(serviceError('InvalidRequestException', 400));

      await expect(credentials().credentials(support)).rejects.toMatchObject({
        reason: 'invalid',
        retryable: false,
      });
    });
  });

  describe('OAuth 2.0 secrets', () => {
    const CLIENT_SECRET = 'Zq7-client-secret-DO-NOT-LEAK';
    const REFRESH_TOKEN = 'Zq7-refresh-token-DO-NOT-LEAK';
    const ACCESS_TOKEN = 'Zq7-access-token-DO-NOT-LEAK';

    /** A token provider that records what it is asked and rotates the refresh token on demand. */
    class FakeTokens implements TokenProvider {
      readonly calls: Array<{ grant: OAuth2Grant; request: TokenRequest }> = [];
      rotateTo: string | undefined;
      failWith: Error | undefined;

      async accessToken(grant: OAuth2Grant, request: TokenRequest = {}): Promise<string> {
        this.calls.push({ grant, request });
        if (this.failWith) throw this.failWith;
        if (this.rotateTo !== undefined) await request.onRefreshTokenRotated?.(this.rotateTo);
        return ACCESS_TOKEN;
      }
    }

    const delegated = {
      provider: 'gmail',
      username: 'support@example.com',
      oauth2: {
        type: 'refresh_token',
        tokenUrl: 'https://oauth2.googleapis.com/token',
        clientId: 'desktop-app',
        clientSecret: CLIENT_SECRET,
        refreshToken: REFRESH_TOKEN,
        note: 'kept as it is',
      },
      operator: 'ops@example.com',
    };

    function oauthCredentials(tokens: TokenProvider, warnings: string[] = []) {
      return new SecretsManagerCredentials(
        new SecretsManagerClient({ region: 'eu-west-1' }),
        { support: SECRET_ID },
        {
          tokens,
          onWarning: (w) => warnings.push(w),
        },
      );
    }

    /** GetSecretValue answers with the latest PutSecretValue, as the service does. */
    function storedSecret(initial: unknown): { value: string } {
      const store = { value: JSON.stringify(initial) };
      smMock.on(GetSecretValueCommand).callsFake(() => ({ Name: SECRET_ID, SecretString: store.value }));
      smMock.on(PutSecretValueCommand).callsFake((input: { SecretString: string }) => {
        store.value = input.SecretString;
        return { Name: SECRET_ID, VersionId: 'v2' };
      });
      return store;
    }

    it('turns client-credentials settings into a refreshable access token for the mailbox', async () => {
      secretIs({
        username: 'support@contoso.com',
        provider: 'outlook',
        oauth2: {
          type: 'client_credentials',
          tenantId: 'contoso.com',
          clientId: 'app',
          clientSecret: CLIENT_SECRET,
        },
      });
      const tokens = new FakeTokens();

      const secret = await oauthCredentials(tokens).credentials(support);

      expect(secret).toEqual({
        username: 'support@contoso.com',
        provider: 'outlook',
        accessToken: ACCESS_TOKEN,
        refreshable: true,
      });
      expect(tokens.calls[0]!.grant).toEqual({
        type: 'client_credentials',
        tokenUrl: 'https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token',
        clientId: 'app',
        clientSecret: CLIENT_SECRET,
        scope: 'https://outlook.office365.com/.default',
      });
    });

    it('passes a rejected token on to the token provider', async () => {
      secretIs(delegated);
      const tokens = new FakeTokens();

      await oauthCredentials(tokens).credentials(support, { rejectedAccessToken: 'old-token' });

      expect(tokens.calls[0]!.request.rejected).toBe('old-token');
    });

    it('writes a rotated refresh token back: the same JSON with only the refresh token changed', async () => {
      const store = storedSecret(delegated);
      const tokens = new FakeTokens();
      tokens.rotateTo = 'rt-rotated';
      const warnings: string[] = [];
      const source = oauthCredentials(tokens, warnings);

      await source.credentials(support);

      expect(smMock).toHaveReceivedCommandTimes(PutSecretValueCommand, 1);
      const put = smMock.commandCalls(PutSecretValueCommand)[0]!.args[0].input;
      expect(put.SecretId).toBe(SECRET_ID);
      expect(put.SecretString).toBe(
        JSON.stringify({ ...delegated, oauth2: { ...delegated.oauth2, refreshToken: 'rt-rotated' } }),
      );
      expect(JSON.parse(store.value).oauth2.refreshToken).toBe('rt-rotated');
      expect(warnings).toEqual([]);
      // The rest of the run presents the new refresh token without reading the secret again.
      tokens.rotateTo = undefined;
      await source.credentials(support);
      expect((tokens.calls[1]!.grant as { refreshToken: string }).refreshToken).toBe('rt-rotated');
      expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    });

    it('leaves a secret that changed since it was read alone, and warns', async () => {
      const store = storedSecret(delegated);
      const tokens = new FakeTokens();
      const warnings: string[] = [];
      const source = oauthCredentials(tokens, warnings);
      // Read once; then an operator puts a new consent in.
      tokens.rotateTo = undefined;
      await source.credentials({ id: 'support' });
      store.value = JSON.stringify({
        ...delegated,
        oauth2: { ...delegated.oauth2, refreshToken: 'rt-from-operator' },
      });
      tokens.rotateTo = 'rt-rotated';

      await source.credentials(support);

      expect(smMock).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
      expect(JSON.parse(store.value).oauth2.refreshToken).toBe('rt-from-operator');
      expect(warnings).toEqual([
        `secret "${SECRET_ID}": the token endpoint issued a new refresh token, but the secret has changed since it was read; it is left as it is`,
      ]);
    });

    it('warns, without failing the login or naming a value, when the write is denied', async () => {
      storedSecret(delegated);
      smMock.on(PutSecretValueCommand).rejects(serviceError('AccessDeniedException', 400));
      const tokens = new FakeTokens();
      tokens.rotateTo = 'rt-rotated-Zq7';
      const warnings: string[] = [];

      const secret = await oauthCredentials(tokens, warnings).credentials(support);

      expect(secret.accessToken).toBe(ACCESS_TOKEN);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toBe(
        `secret "${SECRET_ID}": the token endpoint issued a new refresh token that could not be stored ` +
          '(PutSecretValue failed: AccessDeniedException: AccessDeniedException from the test); the previous ' +
          'one is used until it expires',
      );
      for (const value of ['rt-rotated-Zq7', REFRESH_TOKEN, CLIENT_SECRET, ACCESS_TOKEN])
        expect(warnings[0]).not.toContain(value);
    });

    it('names the secret in a token error and keeps its reason', async () => {
      secretIs(delegated);
      const tokens = new FakeTokens();
      tokens.failWith = new CredentialError(
        'token-rejected',
        'token endpoint https://x/token refused the grant',
      );

      const error = await failure(oauthCredentials(tokens).credentials(support));

      expect(error).toMatchObject({ reason: 'token-rejected', retryable: false });
      expect(error.message).toBe(`secret "${SECRET_ID}": token endpoint https://x/token refused the grant`);
    });

    it.each([
      [
        'oauth2 beside a password',
        { username: 'u', password: PASSWORD, oauth2: delegated.oauth2 },
        'field "oauth2" cannot be combined with "password" or "accessToken"',
      ],
      [
        'a missing client secret',
        { username: 'u', oauth2: { type: 'client_credentials', tenantId: 't', clientId: 'c' } },
        'field "oauth2.clientSecret" is required',
      ],
      [
        'a refresh token that is not a string',
        { username: 'u', oauth2: { ...delegated.oauth2, refreshToken: 12345 } },
        'field "oauth2.refreshToken" must be a non-empty string',
      ],
      [
        'an unknown provider',
        { username: 'u', password: PASSWORD, provider: 'Zq7mail' },
        'field "provider" must be one of "gmail", "outlook"',
      ],
    ])('rejects %s, naming the field only', async (_name, value, expected) => {
      secretIs(value);

      const error = await failure(credentials().credentials(support));

      expect(error.message).toBe(`secret "${SECRET_ID}": ${expected}`);
      for (const secret of [PASSWORD, CLIENT_SECRET, REFRESH_TOKEN, 'Zq7mail', '12345'])
        expect(error.message).not.toContain(secret);
    });
  });
});
