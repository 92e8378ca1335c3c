import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandArgs, selectAccounts, UsageError } from '../../../functions/cli/command-args';
import { tempDir } from '../../support/temp';
import { thrown } from '../../support/thrown';

/** The options `poll` and `check` share: what they accept, and the usage errors (exit status 2). */

const dir = tempDir('command-args-');
const config = join(dir, 'poller.json');
writeFileSync(
  config,
  JSON.stringify({
    accounts: [
      { id: 'support', host: 'pop.example.com', username: 'support', passwordEnv: 'P1' },
      { id: 'sales', host: 'pop.example.com', username: 'sales', passwordEnv: 'P2' },
    ],
    archive: { dir: './archive' },
    events: { stdout: true },
  }),
);

function usageError(run: () => unknown): string {
  const error = thrown(run);
  expect(error).toBeInstanceOf(UsageError);
  return (error as UsageError).message;
}

describe('commandArgs', () => {
  it('reads --config (validated), --json, --account and the command’s own options', () => {
    const parsed = commandArgs('poll', ['-c', config, '--json', '--account', 'sales', '--every', '60'], {
      every: { type: 'string' },
    });
    expect(parsed.config.accounts.map((a) => a.id)).toEqual(['support', 'sales']);
    expect(parsed.json).toBe(true);
    expect(parsed.accounts).toEqual(['sales']);
    expect(parsed.values.every).toBe('60');
  });

  it('defaults to every account and no JSON', () => {
    expect(commandArgs('check', ['--config', config])).toMatchObject({ json: false, accounts: [] });
  });

  it('is a usage error without --config, or with an account the config does not have', () => {
    expect(usageError(() => commandArgs('check', ['--json']))).toBe('check needs --config FILE');
    expect(
      usageError(() => commandArgs('poll', ['--config', config, '--account', 'x', '--account', 'y'])),
    ).toBe('unknown account(s): x, y');
  });

  it('refuses an option the command does not have', () => {
    expect(() => commandArgs('check', ['--config', config, '--every', '60'])).toThrow(
      expect.objectContaining({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }),
    );
  });
});

describe('selectAccounts', () => {
  const accounts = [{ id: 'support' }, { id: 'sales' }, { id: 'billing' }];

  it('keeps the config order, and takes every account when none is named', () => {
    expect(selectAccounts(accounts, ['billing', 'support']).map((a) => a.id)).toEqual(['support', 'billing']);
    expect(selectAccounts(accounts, []).map((a) => a.id)).toEqual(['support', 'sales', 'billing']);
  });
});
