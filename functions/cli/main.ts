#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { version } from '../../package.json';
import { check } from './check-command';
import { UsageError } from './command-args';
import type * as DemoModule from './demo/demo';
import type * as MailboxesModule from './mailboxes/command';
import { poll } from './poll-command';

const USAGE = `Usage:
  pop3-poller poll --config FILE [--json] [--account ID]... [--every SECONDS]
      One pass over every account in FILE: retrieve, archive, announce, delete.
      --json           print a machine-readable summary on stdout
      --account ID     poll only this account (repeatable)
      --every SECONDS  a pass every SECONDS until stopped, instead of one
      Ctrl-C (or SIGTERM) once: finish the messages in flight, then stop; twice: exit at once.
  pop3-poller check --config FILE [--json] [--account ID]...
      Log in to each account as poll would and report what is waiting (STAT), then QUIT.
      Retrieves nothing, deletes nothing, writes no archive and no events.
  pop3-poller mailboxes add|remove|list|import FILE.csv|export [--stack NAME] ...
      Manage the registry of a deployed stack (pop3-poller mailboxes --help).
  pop3-poller demo [--output DIR]
      Start a local POP3 server with sample mail and poll it into DIR (default ./demo-output).

Exit status: 0 every account succeeded; 75 only temporary failures (retry later);
1 something needs attention; 2 bad usage or configuration.`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'poll') return poll(rest);
  if (command === 'check') return check(rest);
  if (command === 'mailboxes') {
    // Loaded on demand: it needs the DynamoDB, Secrets Manager and CloudFormation clients.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { mailboxes } = require('./mailboxes/command') as typeof MailboxesModule;
    return mailboxes(rest);
  }
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

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const e = error as { code?: string; message?: string };
      process.stderr.write(`pop3-poller: ${e?.message ?? String(error)}\n`);
      if (error instanceof UsageError) process.stderr.write(`\n${USAGE}\n`);
      const usage =
        error instanceof UsageError || e?.code === 'ECONFIG' || e?.code?.startsWith('ERR_PARSE_ARGS');
      process.exitCode = usage ? 2 : 1;
    },
  );
}
