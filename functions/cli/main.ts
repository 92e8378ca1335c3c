#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { version } from '../../package.json';
import { check } from './check-command';
import { UsageError } from './command-args';
import type * as DemoModule from './demo/demo';
import type * as MailboxesModule from './mailboxes/command';
import { poll } from './poll-command';
import { REPLAY_HELP } from './replay-help';
import type * as ReplayModule from './replay-command';

/**
 * Help texts. They carry the same facts as docs/cli.md (every option with its default, the exit
 * statuses, the signals); test/functions/cli/main.test.ts checks that every option the parsers
 * accept is in both.
 */

const DOCS = `Docs: docs/cli.md (commands, config file keys, exit status, scheduling) and docs/errors.md
(error codes) in the pop3-poller project.`;

const EXIT_STATUS = `Exit status: 0 every account succeeded; 75 only temporary failures (retry later);
1 something needs attention; 2 bad usage or configuration.`;

const TIMEOUTS = `Timeouts (no setting): 15 s each for the connect, a TLS handshake and the greeting. A
server silent for 60 s while a reply is due, or sending under 1 KiB and no whole reply in 60 s,
is cut (ETIMEDOUT).`;

const SELECT_OPTIONS = `  --config FILE, -c FILE  the config file, JSON (keys: docs/cli.md)        required
  --json                  also print a JSON summary on stdout              default: off
  --account ID            only this account; repeat for several            default: every account`;

export const POLL_HELP = `Usage: pop3-poller poll --config FILE [--json] [--account ID]... [--every SECONDS]
One pass over every account in FILE: log in, retrieve each new message, archive it, announce it,
and only then delete it; QUIT. One summary line per account on stderr.
${SELECT_OPTIONS}
  --every SECONDS         a pass every SECONDS (1 to 9999999) until        default: one pass
                          stopped; passes never overlap
  --help, -h              this help

Local paths (archive directory, events file, keep-mode state) are checked before any login: one
that cannot be written is one line naming it and the OS error, exit 2 (75 for a full disk).
${TIMEOUTS} limits.timeoutSeconds stops new messages; a session still running min(10 s,
timeoutSeconds) later is dropped without QUIT, deleting nothing of it (EDEADLINE, exit 75).
Signals: the first SIGINT (Ctrl-C) or SIGTERM finishes the messages in flight, QUITs and stops
(accounts not begun are skipped, ESTOPPED); a second exits at once (130 or 143), and the server
deletes nothing of that session.
${EXIT_STATUS} With --every: the last pass's.
${DOCS}`;

export const CHECK_HELP = `Usage: pop3-poller check --config FILE [--json] [--account ID]...
Log in to each account exactly as poll would, report the server, TLS version, login method and
what is waiting (STAT; in keep mode also how many are new), then QUIT. Retrieves nothing, deletes
nothing, writes no archive, no events and no state.
${SELECT_OPTIONS}
  --help, -h              this help

${TIMEOUTS}
${EXIT_STATUS}
${DOCS}`;

export const DEMO_HELP = `Usage: pop3-poller demo [--output DIR]
Start a POP3 server inside this process with four sample messages, poll it over STLS through the
same code as poll, and show what landed where: DIR/archive and DIR/events.jsonl.
  --output DIR            where to write                                   default: demo-output
  --help, -h              this help

DIR is checked before the server starts: if it cannot be written, one line naming it and the OS
error, exit 2 (75 for a full disk).
${EXIT_STATUS}
${DOCS}`;

const USAGE = `Usage: pop3-poller COMMAND [options]   (pop3-poller COMMAND --help for a command's options)
  pop3-poller poll --config FILE [--json] [--account ID]... [--every SECONDS]
      One pass over every account in FILE: retrieve, archive, announce, delete.
  pop3-poller check --config FILE [--json] [--account ID]...
      Log in to each account as poll would and report what is waiting, then QUIT.
  pop3-poller demo [--output DIR]
      A local POP3 server with sample mail, polled into DIR (default demo-output).
  pop3-poller mailboxes add|remove|list|import|export [--stack NAME] ...
      Manage the mailbox registry of a deployed stack.
  pop3-poller replay (--archive DIR | --bucket B | --stack NAME) [--account ID]... [--since T] ...
      Re-emit the "Message Archived" events of archived messages (docs/replay.md).
  pop3-poller --version, -V      print the version
  pop3-poller --help, -h         this help

Options of poll and check:
${SELECT_OPTIONS}
  --every SECONDS         poll: a pass every SECONDS until stopped         default: one pass

Ctrl-C (or SIGTERM) once: finish the messages in flight, then stop; twice: exit at once.
${EXIT_STATUS}
${DOCS}`;

/** `--output` of `demo`. */
export const DEMO_OPTIONS = { output: { type: 'string' } } as const;

const COMMAND_HELP: Readonly<Record<string, string>> = {
  poll: POLL_HELP,
  check: CHECK_HELP,
  demo: DEMO_HELP,
  replay: REPLAY_HELP,
};

/** The help for `command` (`undefined`: the general usage), as `pop3-poller [help] COMMAND --help` prints it. */
export function helpText(command?: string): string {
  return (command !== undefined && COMMAND_HELP[command]) || USAGE;
}

const HELP_FLAGS = new Set(['--help', '-h']);

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'help' && rest[0] === 'mailboxes') return main(['mailboxes', '--help']);
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${helpText(rest[0])}\n`);
    return 0;
  }
  if (command !== undefined && command in COMMAND_HELP && rest.some((arg) => HELP_FLAGS.has(arg))) {
    process.stdout.write(`${helpText(command)}\n`);
    return 0;
  }
  if (command === 'poll') return poll(rest);
  if (command === 'replay') {
    // Loaded on demand: the readers and their SDK clients are replay's alone.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { replay } = require('./replay-command') as typeof ReplayModule;
    return replay(rest);
  }
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
    const { values } = parseArgs({ args: [...rest], options: DEMO_OPTIONS, strict: true });
    // Loaded on demand: `poll` does not need the demo server and sample mail (~5 ms of start-up).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runDemo } = require('./demo/demo') as typeof DemoModule;
    return runDemo(values.output ?? 'demo-output');
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
      // A usage error is followed by the help of the command it concerns.
      if (error instanceof UsageError) process.stderr.write(`\n${helpText(process.argv[2])}\n`);
      const usage =
        error instanceof UsageError || e?.code === 'ECONFIG' || e?.code?.startsWith('ERR_PARSE_ARGS');
      process.exitCode = usage ? 2 : 1;
    },
  );
}
