#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { version } from '../../package.json';
import type { AccountConfig } from '../poller/account';
import { checkAccounts } from '../poller/check';
import { pollAccounts } from '../poller/poll-accounts';
import { loadConfig, type CliConfig } from './config';
import type * as DemoModule from './demo/demo';
import { exitCode, formatChecks, formatProgress, formatResults } from './report';
import { wire, wireCheck } from './wiring';

const USAGE = `Usage:
  pop3-poller poll --config FILE [--json] [--account ID]...
      One pass over every account in FILE: retrieve, archive, announce, delete.
      --json         print a machine-readable summary on stdout
      --account ID   poll only this account (repeatable)
      Ctrl-C (or SIGTERM) once: finish the messages in flight, then stop; twice: exit at once.
  pop3-poller check --config FILE [--json] [--account ID]...
      Log in to each account as poll would and report what is waiting (STAT), then QUIT.
      Retrieves nothing, deletes nothing, writes no archive and no events.
  pop3-poller demo [--output DIR]
      Start a local POP3 server with sample mail and poll it into DIR (default ./demo-output).

Exit status: 0 every account succeeded; 75 only temporary failures (retry later);
1 something needs attention; 2 bad usage or configuration.`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'poll') return poll(rest);
  if (command === 'check') return check(rest);
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`pop3-poller ${version}\n`);
    return 0;
  }
  if (command === 'demo') {
    const { values } = parseArgs({ args: [...rest], options: { output: { type: 'string' } }, strict: true });
    // Loaded on demand: `poll` does not need the demo server and sample mail (~5 ms of start-up).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runDemo } = require('./demo/demo') as typeof DemoModule;
    return runDemo(values.output ?? 'demo-output');
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

const COMMAND_OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean', default: false },
  account: { type: 'string', multiple: true },
} as const;

/** `--config`, `--json` and `--account` of `poll` and `check`; undefined after a usage error. */
function commandArgs(
  command: string,
  args: readonly string[],
): { config: CliConfig; json: boolean; accounts: readonly string[] } | undefined {
  const { values } = parseArgs({ args: [...args], options: COMMAND_OPTIONS, strict: true });
  if (!values.config) {
    process.stderr.write(`${command} needs --config FILE\n\n${USAGE}\n`);
    return undefined;
  }
  return { config: loadConfig(values.config), json: values.json, accounts: values.account ?? [] };
}

/** The accounts named by `--account` (all when none is), or undefined after naming unknown ones. */
function selectAccounts(accounts: AccountConfig[], ids: readonly string[]): AccountConfig[] | undefined {
  const unknown = ids.filter((id) => !accounts.some((a) => a.id === id));
  if (unknown.length > 0) {
    process.stderr.write(`unknown account(s): ${unknown.join(', ')}\n`);
    return undefined;
  }
  return ids.length > 0 ? accounts.filter((a) => ids.includes(a.id)) : accounts;
}

async function poll(args: readonly string[]): Promise<number> {
  const parsed = commandArgs('poll', args);
  if (!parsed) return 2;
  const { config } = parsed;
  const { accounts, deps } = await wire(config);
  const selected = selectAccounts(accounts, parsed.accounts);
  if (!selected) return 2;
  const live = process.stderr.isTTY === true;
  const limits = config.limits ?? {};
  const stop = stopOnSignals(live);
  const results = await pollAccounts(selected, deps, {
    runId: randomUUID(),
    stop: stop.signal,
    ...(limits.maxMessages ? { maxMessages: limits.maxMessages } : {}),
    ...(limits.maxBytes ? { maxBytes: limits.maxBytes } : {}),
    ...(limits.maxMessageBytes ? { maxMessageBytes: limits.maxMessageBytes } : {}),
    ...(limits.timeoutSeconds ? { deadline: new Date(Date.now() + limits.timeoutSeconds * 1000) } : {}),
    ...(config.concurrency?.accounts ? { accountConcurrency: config.concurrency.accounts } : {}),
    ...(config.concurrency?.store ? { storeConcurrency: config.concurrency.store } : {}),
    ...(live ? { onProgress: (p) => process.stderr.write(`\r\x1b[K${formatProgress(p)}`) } : {}),
  });
  stop.dispose();
  if (live) process.stderr.write('\r\x1b[K');
  process.stderr.write(formatResults(results));
  if (parsed.json) process.stdout.write(`${JSON.stringify({ accounts: results }, null, 2)}\n`);
  return exitCode(results);
}

/**
 * The first SIGINT or SIGTERM stops the run gracefully (PollOptions.stop): no new message is
 * started, those in flight are archived, announced and deleted, and each session ends with QUIT.
 * A second one exits at once, which loses nothing either: without QUIT the server deletes nothing,
 * and the next run fetches those messages again (same archive keys, same event ids).
 */
function stopOnSignals(live: boolean): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(
        `\npop3-poller: ${name} again: exiting now; unfinished messages stay on the server\n`,
      );
      process.exit(name === 'SIGINT' ? 130 : 143);
    }
    controller.abort();
    process.stderr.write(
      `${live ? '\r\x1b[K' : ''}pop3-poller: ${name}: finishing the messages in flight, then stopping ` +
        `(${name} again to exit at once)\n`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function check(args: readonly string[]): Promise<number> {
  const parsed = commandArgs('check', args);
  if (!parsed) return 2;
  const { accounts, deps } = await wireCheck(parsed.config);
  const selected = selectAccounts(accounts, parsed.accounts);
  if (!selected) return 2;
  const results = await checkAccounts(selected, deps, {
    ...(parsed.config.concurrency?.accounts
      ? { accountConcurrency: parsed.config.concurrency.accounts }
      : {}),
  });
  process.stderr.write(formatChecks(results));
  if (parsed.json) process.stdout.write(`${JSON.stringify({ accounts: results }, null, 2)}\n`);
  return exitCode(results);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const e = error as { code?: string; message?: string };
      process.stderr.write(`pop3-poller: ${e?.message ?? String(error)}\n`);
      process.exitCode = e?.code === 'ECONFIG' || e?.code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
    },
  );
}
