import { parseArgs } from 'node:util';
import { UsageError } from '../command-args';
import { ADD_OPTIONS, addMailbox } from './add-command';
import { defaultIo, type MailboxesIo, type TargetOptions } from './context';
import { importMailboxes } from './import-command';
import { exportMailboxes, listMailboxes } from './list-command';
import { removeMailboxes } from './remove-command';

export const MAILBOXES_USAGE = `Usage: pop3-poller mailboxes COMMAND [--stack NAME | --table NAME [--secret-prefix PREFIX]] [--region R]
  The registry of a deployed stack: the mailboxes its dispatcher polls, in a DynamoDB table.
  --stack NAME          find the table, the secret name prefix and the schedule groups from the
                        stack's outputs (RegistryTableName, SecretNamePrefix, ScheduleGroups)
  --table NAME          the registry table itself, instead of --stack
  --secret-prefix P     with --table: where the shared secrets are named (P + shared-NNNN)
  --region R            the stack's region (default: the SDK's, e.g. AWS_REGION)
  --help, -h            this help (also after a command)

  add --id ID --username U (--host H | --provider gmail|outlook) (--secret-id S | --password-stdin)
      Register (or replace, keeping its last poll) one mailbox. Other options, with their defaults:
      --port N (995 with implicit TLS, else 110), --tls implicit|starttls|none (implicit),
      --mode delete|keep (delete), --delete-after-days N (keep mode only; never),
      --secret-key K (the mailbox id), --auth-method M (auto), --certificate-sha256 FP (none),
      --max-messages N and --max-bytes N (the worker's own bounds), --schedule GROUP (the
      stack's default group), --enabled true|false (true).
      With --stack, a GROUP the stack does not have is refused (exit 2): such a mailbox would
      never be polled. With --table the groups are unknown and not checked.
      --password-stdin  read the password from standard input (one line) and keep it in a shared
                        secret; a password is never taken from the command line.
  remove ID...
      Remove mailboxes, and their entries in the shared secrets the CLI manages.
  list [--json]
      One line per mailbox: id, host, username, mode, schedule, last poll (time, status, code).
      With --stack, a schedule the stack has no group for is marked "(no such group)": that
      mailbox is never polled (with --json: "scheduleUnknown": true).
      --json: one JSON object per line (default: off).
  import FILE.csv [--dry-run]
      Register every mailbox of FILE. Header row of column names: id, username, host or
      provider, and any of provider, port, tls, secretId, secretKey, mode, deleteAfterDays,
      authMethod, certificateSha256, maxMessages, maxBytes, schedule, enabled, password. An empty
      cell is unset. A row gives secretId (its own secret, or one you manage) or password (kept in
      a shared secret named P + shared-NNNN, up to ~60 KB each; secretId then points there).
      The whole file is checked first: with any bad line nothing is written (exit 2). With
      --stack, so is every schedule against the stack's groups (not with --table).
      --dry-run: check the file only; no AWS call, schedules unchecked (default: off).
  export
      Write every record as CSV (no passwords) on standard output; import reads it back.

Exit status: 0 done; 1 an AWS request failed (or export skipped invalid records);
2 bad usage, a bad file or record, or a stack without the registry.
Docs: docs/fleet.md (the registry, CSV, shared secrets) and docs/deploy.md in the pop3-poller project.`;

/** Options every subcommand takes. */
export const TARGET_OPTIONS = {
  stack: { type: 'string' },
  table: { type: 'string' },
  'secret-prefix': { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Each subcommand's own options. */
export const COMMAND_OPTIONS = {
  add: ADD_OPTIONS,
  remove: {},
  list: { json: { type: 'boolean', default: false } },
  import: { 'dry-run': { type: 'boolean', default: false } },
  export: {},
} as const;

type Subcommand = keyof typeof COMMAND_OPTIONS;

/**
 * `pop3-poller mailboxes …`, as main.ts dispatches it; tests pass their own `io` (output, stdin,
 * files and SDK clients). Returns the exit status; never throws for usage or AWS errors.
 */
export async function mailboxes(args: readonly string[], io: MailboxesIo = defaultIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(`${MAILBOXES_USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  try {
    if (!Object.hasOwn(COMMAND_OPTIONS, name)) throw new UsageError(`unknown mailboxes command "${name}"`);
    const command = name as Subcommand;
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...TARGET_OPTIONS, ...COMMAND_OPTIONS[command] },
      strict: true,
      allowPositionals: true,
    });
    const v = values as Record<string, unknown>;
    if (v.help === true) {
      io.stdout.write(`${MAILBOXES_USAGE}\n`);
      return 0;
    }
    const target: TargetOptions = {
      ...(typeof v.stack === 'string' ? { stack: v.stack } : {}),
      ...(typeof v.table === 'string' ? { table: v.table } : {}),
      ...(typeof v['secret-prefix'] === 'string' ? { secretPrefix: v['secret-prefix'] } : {}),
      ...(typeof v.region === 'string' ? { region: v.region } : {}),
    };
    if (command !== 'remove' && command !== 'import' && positionals.length > 0) {
      throw new UsageError(`mailboxes ${command} takes no arguments (got ${positionals.length})`);
    }
    switch (command) {
      case 'add':
        return await addMailbox(io, target, v);
      case 'remove':
        return await removeMailboxes(io, target, positionals);
      case 'list':
        return await listMailboxes(io, target, v.json === true);
      case 'import':
        if (positionals.length > 1) throw new UsageError('mailboxes import takes one FILE.csv');
        return await importMailboxes(io, target, positionals[0], v['dry-run'] === true);
      case 'export':
        return await exportMailboxes(io, target);
    }
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    const usage =
      error instanceof UsageError || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'));
    io.stderr.write(`pop3-poller mailboxes: ${String(e.message ?? error)}\n`);
    if (usage) {
      io.stderr.write('(pop3-poller mailboxes --help lists the commands and options)\n');
      return 2;
    }
    return 1;
  }
}
