import { UsageError } from '../command-args';
import { checkTargetOptions, MailboxesContext, type MailboxesIo, type TargetOptions } from './context';
import { VALIDATION_FAILED } from './import-command';
import { rowFromFields } from './rows';
import { checkSchedules, writeRows } from './write';

/** `add`'s record options: kebab-case flag → record field. */
export const ADD_FIELDS = {
  id: 'id',
  provider: 'provider',
  host: 'host',
  port: 'port',
  tls: 'tls',
  username: 'username',
  'secret-id': 'secretId',
  'secret-key': 'secretKey',
  mode: 'mode',
  'delete-after-days': 'deleteAfterDays',
  'auth-method': 'authMethod',
  'certificate-sha256': 'certificateSha256',
  'max-messages': 'maxMessages',
  'max-bytes': 'maxBytes',
  schedule: 'schedule',
  enabled: 'enabled',
} as const;

export const ADD_OPTIONS = {
  ...(Object.fromEntries(Object.keys(ADD_FIELDS).map((flag) => [flag, { type: 'string' }])) as Record<
    keyof typeof ADD_FIELDS,
    { type: 'string' }
  >),
  'password-stdin': { type: 'boolean', default: false },
} as const;

/**
 * `mailboxes add`: one mailbox from options, validated as an import row is; it replaces a mailbox
 * with the same id (keeping its last poll). The password is read from standard input only
 * (`--password-stdin`), never from the command line, where `ps` and shell history would show it.
 */
export async function addMailbox(
  io: MailboxesIo,
  target: TargetOptions,
  values: Readonly<Record<string, unknown>>,
): Promise<number> {
  const fields: Record<string, string> = {};
  for (const [flag, key] of Object.entries(ADD_FIELDS)) {
    const value = values[flag];
    if (typeof value === 'string') fields[key] = value.trim();
  }
  if (!fields.id) throw new UsageError('mailboxes add needs --id ID');
  const passwordFromStdin = values['password-stdin'] === true;
  checkTargetOptions('add', target, passwordFromStdin);
  if (passwordFromStdin) {
    // One line, as `printf '%s\n' "$PASSWORD" |` or a here-string sends it: the final newline is not part of it.
    const password = (await io.readStdin()).replace(/\r?\n$/, '');
    if (password === '') throw new UsageError('--password-stdin: standard input is empty');
    fields.password = password;
  }
  const result = rowFromFields(fields);
  if (!result.ok) {
    io.stderr.write(
      `pop3-poller mailboxes: mailbox not added:\n${result.problems.map((p) => `  ${p}\n`).join('')}`,
    );
    return VALIDATION_FAILED;
  }
  const context = new MailboxesContext(io, target);
  const { unknown, groupsText } = await checkSchedules(context, [result.row]);
  if (unknown.length > 0) {
    io.stderr.write(
      `pop3-poller mailboxes: mailbox ${result.row.record.id} not added: schedule "${unknown[0]!.schedule}" ` +
        `is not a schedule group of stack "${target.stack}" ${groupsText}\n`,
    );
    return VALIDATION_FAILED;
  }
  const summary = await writeRows(context, [result.row]);
  const secret = summary.placed.get(result.row.record.id);
  io.stdout.write(
    `mailbox ${result.row.record.id} written${secret ? `; its password is in shared secret ${secret}` : ''}\n`,
  );
  return 0;
}
