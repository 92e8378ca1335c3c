import { checkAccounts } from '../poller/check';
import { commandArgs, selectAccounts } from './command-args';
import { exitCode, formatChecks } from './report';
import { wireCheck } from './wiring';

/** `pop3-poller check`: log in to each account as poll would, report what is waiting, QUIT. */
export async function check(args: readonly string[]): Promise<number> {
  const parsed = commandArgs('check', args);
  const { accounts, deps } = await wireCheck(parsed.config);
  const concurrency = parsed.config.concurrency?.accounts;
  const results = await checkAccounts(selectAccounts(accounts, parsed.accounts), deps, {
    ...(concurrency ? { accountConcurrency: concurrency } : {}),
  });
  process.stderr.write(formatChecks(results));
  if (parsed.json) process.stdout.write(`${JSON.stringify({ accounts: results }, null, 2)}\n`);
  return exitCode(results);
}
