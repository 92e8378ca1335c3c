import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../../functions/cli/config';
import { formatResults } from '../../../functions/cli/report';
import { wire } from '../../../functions/cli/wiring';

/** The CLI config's provider presets and secret files (the rest is covered end to end in cli.dovecot). */

const base = { archive: { dir: './archive' }, events: { stdout: true } };

function problems(accounts: object[]): string {
  try {
    parseConfig({ ...base, accounts });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the config was accepted');
}

describe('Function: parseConfig (providers and secret files)', () => {
  it('accepts a provider instead of a host', () => {
    const config = parseConfig({
      ...base,
      accounts: [
        { id: 'gmail', provider: 'gmail', username: 'me@gmail.com', passwordEnv: 'GMAIL_APP_PASSWORD' },
      ],
    });
    expect(config.accounts[0]).toMatchObject({ provider: 'gmail' });
  });

  it('rejects an unknown provider and a missing host without one', () => {
    expect(problems([{ id: 'a', provider: 'yahoo', username: 'u', password: 'Zq7' }])).toContain(
      'accounts[0].provider: expected ("gmail" | "outlook")',
    );
    expect(problems([{ id: 'a', username: 'u', password: 'Zq7' }])).toContain(
      'accounts[0]: needs "host" (or "provider") and "username" (or a "secretId" or "secretFile" whose secret holds them)',
    );
  });

  it('refuses delete mode for a Gmail recent: login, at the provider or its host', () => {
    for (const where of [{ provider: 'gmail' }, { host: 'pop.gmail.com' }]) {
      const message = problems([
        { id: 'a', ...where, username: 'recent:me@gmail.com', mode: 'delete', password: 'Zq7' },
      ]);
      expect(message).toContain(
        'accounts[0]: Gmail "recent:" logins are never deleted from: set "mode" to "keep" or leave it unset',
      );
      expect(message).not.toContain('Zq7');
    }
    expect(() =>
      parseConfig({
        ...base,
        accounts: [{ id: 'a', provider: 'gmail', username: 'recent:me@gmail.com', password: 'x' }],
      }),
    ).not.toThrow();
  });

  it('takes exactly one of password, passwordEnv, secretId and secretFile', () => {
    expect(problems([{ id: 'a', secretFile: 'a.json', secretId: 'pop3/a' }])).toContain(
      'give exactly one of "password", "passwordEnv", "secretId" or "secretFile"',
    );
    expect(() => parseConfig({ ...base, accounts: [{ id: 'a', secretFile: 'a.json' }] })).not.toThrow();
  });
});

describe('Function: wire (secret files)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cli-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves secretFile against the config file and reads the account secret from it', async () => {
    writeFileSync(
      join(dir, 'support.json'),
      JSON.stringify({ username: 'me@gmail.com', password: 'app-pw' }),
    );
    writeFileSync(
      join(dir, 'poller.json'),
      JSON.stringify({
        ...base,
        accounts: [{ id: 'support', provider: 'gmail', secretFile: 'support.json' }],
      }),
    );
    const config = loadConfig(join(dir, 'poller.json'));
    expect(config.accounts[0]!.secretFile).toBe(join(dir, 'support.json'));

    const { accounts, deps } = await wire(config);

    expect(accounts).toEqual([{ id: 'support', provider: 'gmail' }]);
    await expect(deps.credentials.credentials(accounts[0]!)).resolves.toEqual({
      username: 'me@gmail.com',
      password: 'app-pw',
    });
  });
});

describe('Function: formatResults (partial listings)', () => {
  it('says more may remain when the server lists only part of the mailbox', () => {
    const line = formatResults([
      {
        accountId: 'gmail',
        status: 'ok',
        listed: 250,
        fetched: 250,
        archived: 250,
        alreadyArchived: 0,
        deleted: 250,
        failedMessages: 0,
        bytes: 2048,
        durationMs: 1500,
        remaining: 0,
        stoppedBy: 'loginDelay',
        moreMayRemain: true,
        loginDelaySeconds: 300,
        messageErrors: [],
      },
    ]);
    expect(line).toContain('more may remain (loginDelay)');
  });
});
