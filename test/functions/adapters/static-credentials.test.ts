import { CredentialError } from '../../../functions/adapters/errors';
import { StaticCredentials } from '../../../functions/adapters/static-credentials';
import type { AccountConfig } from '../../../functions/poller/account';

const PASSWORD = 'Zq7-static-DO-NOT-LEAK';
const support: AccountConfig = { id: 'support', username: 'support@example.com' };

async function failure(promise: Promise<unknown>): Promise<CredentialError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CredentialError);
  return error as CredentialError;
}

describe('Class: StaticCredentials', () => {
  it('returns an inline password with the account username', async () => {
    const source = new StaticCredentials({ support: { password: PASSWORD } });

    await expect(source.credentials(support)).resolves.toEqual({
      username: 'support@example.com',
      password: PASSWORD,
    });
  });

  it('reads the password from the environment variable named by passwordEnv', async () => {
    const source = new StaticCredentials(
      { support: { username: 'other@example.com', passwordEnv: 'SUPPORT_POP3_PASSWORD' } },
      { env: { SUPPORT_POP3_PASSWORD: PASSWORD } },
    );

    await expect(source.credentials(support)).resolves.toEqual({
      username: 'other@example.com',
      password: PASSWORD,
    });
  });

  it('reads an access token from accessTokenEnv', async () => {
    const source = new StaticCredentials(new Map([['support', { accessTokenEnv: 'TOKEN' }]]), {
      env: { TOKEN: 'ya29.token' },
    });

    await expect(source.credentials(support)).resolves.toEqual({
      username: 'support@example.com',
      accessToken: 'ya29.token',
    });
  });

  it('reads process.env by default', async () => {
    process.env.STATIC_CREDENTIALS_TEST_PASSWORD = PASSWORD;
    try {
      const source = new StaticCredentials({ support: { passwordEnv: 'STATIC_CREDENTIALS_TEST_PASSWORD' } });
      await expect(source.credentials(support)).resolves.toMatchObject({ password: PASSWORD });
    } finally {
      delete process.env.STATIC_CREDENTIALS_TEST_PASSWORD;
    }
  });

  it('names the variable, and no value, when it is not set', async () => {
    const source = new StaticCredentials(
      { support: { passwordEnv: 'SUPPORT_POP3_PASSWORD' } },
      { env: { OTHER: PASSWORD } },
    );

    const error = await failure(source.credentials(support));

    expect(error).toMatchObject({ code: 'ECREDENTIALS', reason: 'missing-env', retryable: false });
    expect(error.message).toBe(
      'account "support": environment variable "SUPPORT_POP3_PASSWORD" (passwordEnv) is not set',
    );
  });

  it('treats an empty variable like an unset one', async () => {
    const source = new StaticCredentials({ support: { passwordEnv: 'EMPTY' } }, { env: { EMPTY: '' } });

    const error = await failure(source.credentials(support));

    expect(error.message).toBe('account "support": environment variable "EMPTY" (passwordEnv) is empty');
  });

  it('refuses both an inline password and passwordEnv', async () => {
    const source = new StaticCredentials(
      { support: { password: PASSWORD, passwordEnv: 'P' } },
      { env: { P: PASSWORD } },
    );

    const error = await failure(source.credentials(support));

    expect(error).toMatchObject({ reason: 'invalid' });
    expect(error.message).toBe('account "support": give either "password" or "passwordEnv", not both');
  });

  it('requires some secret', async () => {
    const error = await failure(new StaticCredentials({ support: {} }).credentials(support));

    expect(error.message).toMatch(/a password, passwordEnv, accessToken or accessTokenEnv is required/);
  });

  it('requires a username from the entry or the account', async () => {
    const source = new StaticCredentials({ support: { password: PASSWORD } });

    const error = await failure(source.credentials({ id: 'support' }));

    expect(error.message).toBe('account "support": a username is required');
  });

  it('says when an account has no credentials configured', async () => {
    const error = await failure(new StaticCredentials({}).credentials({ id: 'constructor' }));

    expect(error).toMatchObject({ reason: 'not-found', retryable: false });
    expect(error.message).toBe('no credentials are configured for account "constructor"');
  });

  it('never puts the password into an error message', async () => {
    const source = new StaticCredentials(
      { support: { password: PASSWORD, accessTokenEnv: 'MISSING' } },
      { env: {} },
    );

    const error = await failure(source.credentials(support));

    expect(error.message).not.toContain('Zq7');
  });
});
