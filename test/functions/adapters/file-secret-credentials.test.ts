import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialError } from '../../../functions/adapters/errors';
import { FileSecretCredentials } from '../../../functions/adapters/file-secret-credentials';
import type { TokenProvider } from '../../../functions/adapters/oauth2';
import { OAuth2TokenProvider } from '../../../functions/adapters/oauth2-token-provider';
import { describeAsRoot, fullTmpfs, readOnlyDir } from '../../support/mounts';
import { OAuthTestServer } from '../../support/oauth-server';

/** The CLI's `secretFile`: the Secrets Manager document format in a local file, written back on rotation. */

const CLIENT = { id: 'desktop-app', secret: 'Zq7-file-client-secret' };

let oauth: OAuthTestServer;
let dir: string;

beforeAll(async () => {
  oauth = await OAuthTestServer.start();
});

afterAll(async () => {
  await oauth.stop();
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'secret-file-'));
  oauth.reset();
  oauth.registerClient(CLIENT.id, CLIENT.secret);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(content: unknown, mode = 0o600): string {
  const file = join(dir, 'support.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  chmodSync(file, mode);
  return file;
}

describe('Class: FileSecretCredentials', () => {
  it('reads a password secret from the file', async () => {
    const file = secretFile({ host: 'pop.example.com', username: 'support@example.com', password: 'Zq7-pw' });
    const source = new FileSecretCredentials({ files: { support: file } });

    await expect(source.credentials({ id: 'support' })).resolves.toEqual({
      host: 'pop.example.com',
      username: 'support@example.com',
      password: 'Zq7-pw',
    });
  });

  it('refreshes an access token and writes the rotated refresh token back, atomically, keeping the mode', async () => {
    oauth.rotateRefreshTokens = true;
    const refreshToken = oauth.issueRefreshToken(CLIENT.id, 'support@example.com');
    const original = {
      provider: 'gmail',
      username: 'support@example.com',
      oauth2: {
        type: 'refresh_token',
        tokenUrl: oauth.tokenUrl,
        clientId: CLIENT.id,
        clientSecret: CLIENT.secret,
        refreshToken,
      },
    };
    const file = secretFile(original, 0o640);
    const warnings: string[] = [];
    const source = new FileSecretCredentials({
      files: new Map([['support', file]]),
      tokens: new OAuth2TokenProvider(),
      onWarning: (w) => warnings.push(w),
    });

    const secret = await source.credentials({ id: 'support' });

    expect(secret).toMatchObject({ accessToken: oauth.issuedAccessTokens.at(-1), refreshable: true });
    const written = JSON.parse(readFileSync(file, 'utf8')) as typeof original;
    expect(written.oauth2.refreshToken).not.toBe(refreshToken);
    expect(written).toEqual({
      ...original,
      oauth2: { ...original.oauth2, refreshToken: written.oauth2.refreshToken },
    });
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(['support.json']);
    expect(warnings).toEqual([]);
  });

  it('warns and goes on with the new token in memory when the file cannot be updated', async () => {
    oauth.rotateRefreshTokens = true;
    const refreshToken = oauth.issueRefreshToken(CLIENT.id, 'support@example.com');
    const file = secretFile({
      username: 'support@example.com',
      oauth2: {
        type: 'refresh_token',
        tokenUrl: oauth.tokenUrl,
        clientId: CLIENT.id,
        clientSecret: CLIENT.secret,
        refreshToken,
      },
    });
    const warnings: string[] = [];
    const tokens = new OAuth2TokenProvider();
    // The file goes away between the read and the write-back.
    const removing: TokenProvider = {
      accessToken: (grant, request = {}) =>
        tokens.accessToken(grant, {
          ...request,
          onRefreshTokenRotated: (next) => {
            rmSync(file);
            return request.onRefreshTokenRotated?.(next);
          },
        }),
    };
    const source = new FileSecretCredentials({
      files: { support: file },
      tokens: removing,
      onWarning: (w) => warnings.push(w),
    });

    const secret = await source.credentials({ id: 'support' });

    expect(secret.accessToken).toBe(oauth.issuedAccessTokens.at(-1));
    expect(warnings).toEqual([
      `secret "${file}": the token endpoint issued a new refresh token, but the secret could not be read again ` +
        `to store it: secret file "${file}" cannot be read (ENOENT)`,
    ]);
    // Later in the run the rotated refresh token is presented (and is valid).
    tokens.clear();
    await source.credentials({ id: 'support' });
    expect(oauth.tokenRequests.map((r) => r.refresh_token)).toEqual([
      refreshToken,
      expect.not.stringMatching(new RegExp(`^${refreshToken}$`)),
    ]);
  });

  it('names the account and file, never the content, when it cannot be used', async () => {
    const source = new FileSecretCredentials({ files: { support: join(dir, 'missing.json') } });
    await expect(source.credentials({ id: 'support' })).rejects.toMatchObject({
      reason: 'not-found',
      message: `secret file "${join(dir, 'missing.json')}" cannot be read (ENOENT)`,
    });
    await expect(source.credentials({ id: 'other' })).rejects.toMatchObject({
      reason: 'not-found',
      message: 'no secret file is configured for account "other"',
    });

    const broken = new FileSecretCredentials({ files: { support: secretFile('{"password": "Zq7-pw"') } });
    const error = (await broken.credentials({ id: 'support' }).catch((e: unknown) => e)) as CredentialError;
    expect(error).toBeInstanceOf(CredentialError);
    expect(error.message).toMatch(/SecretString is not valid JSON$/);
    expect(error.message).not.toContain('Zq7');
  });
});

describeAsRoot('Class: FileSecretCredentials, write-back to a file that cannot be rewritten', () => {
  const secretIn = (fill: (dir: string) => void) => (where: 'EROFS' | 'ENOSPC') =>
    where === 'EROFS' ? readOnlyDir(fill) : fullTmpfs('64k', fill);

  it.each(['EROFS', 'ENOSPC'] as const)(
    '%s: one warning naming the file and the error, the new token kept in memory, no temp file left',
    async (errno) => {
      oauth.rotateRefreshTokens = true;
      const refreshToken = oauth.issueRefreshToken(CLIENT.id, 'support@example.com');
      const document = JSON.stringify({
        username: 'support@example.com',
        oauth2: {
          type: 'refresh_token',
          tokenUrl: oauth.tokenUrl,
          clientId: CLIENT.id,
          clientSecret: CLIENT.secret,
          refreshToken,
        },
      });
      const root = secretIn((d) => writeFileSync(join(d, 'support.json'), document, { mode: 0o600 }))(errno);
      const file = join(root, 'support.json');
      const warnings: string[] = [];
      const tokens = new OAuth2TokenProvider();
      const source = new FileSecretCredentials({
        files: { support: file },
        tokens,
        onWarning: (w) => warnings.push(w),
      });

      const secret = await source.credentials({ id: 'support' });

      expect(secret.accessToken).toBe(oauth.issuedAccessTokens.at(-1));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        new RegExp(
          `^secret "${file}": the token endpoint issued a new refresh token that could not be stored ` +
            `\\(secret file ${file}: ${errno}, [^)]*(\\([^)]*\\))?\\); the previous one is used until it expires$`,
        ),
      );
      expect(warnings[0]).not.toContain(refreshToken);
      expect(readFileSync(file, 'utf8')).toBe(document);
      expect(readdirSync(root).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      // Later in the run the rotated refresh token is presented.
      tokens.clear();
      await source.credentials({ id: 'support' });
      expect(oauth.tokenRequests.map((r) => r.refresh_token)).toEqual([refreshToken, expect.any(String)]);
      expect(oauth.tokenRequests[1]!.refresh_token).not.toBe(refreshToken);
    },
  );
});
