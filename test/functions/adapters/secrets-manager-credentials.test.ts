import {
  GetSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CredentialError } from '../../../functions/adapters/errors';
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

  it('accepts an access token instead of a password, and ignores unknown fields such as oauth2', async () => {
    secretIs({
      username: 'u@example.com',
      accessToken: 'tok',
      oauth2: { clientId: 'c', refreshToken: 'r' },
      note: 'x',
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

    it('requires a password or an access token', async () => {
      secretIs({ username: 'u', host: 'pop.example.com' });

      const error = await failure(credentials().credentials(support));

      expect(error.message).toBe(`secret "${SECRET_ID}": field "password" or "accessToken" is required`);
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
});
