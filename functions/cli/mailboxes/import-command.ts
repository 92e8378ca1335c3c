import { UsageError } from '../command-args';
import { checkTargetOptions, MailboxesContext, type MailboxesIo, type TargetOptions } from './context';
import { formatProblems, readMailboxCsv } from './rows';
import { checkSchedules, writeRows } from './write';

/** The exit status of a file or an `add` with bad rows: nothing was written. */
export const VALIDATION_FAILED = 2;

/**
 * `mailboxes import FILE.csv [--dry-run]`: validates the whole file (`--dry-run`: only that, without AWS), and only when every row is
 * good writes the passwords into shared secrets and the records into the registry.
 */
export async function importMailboxes(
  io: MailboxesIo,
  target: TargetOptions,
  file: string | undefined,
  dryRun: boolean,
): Promise<number> {
  if (file === undefined) throw new UsageError('mailboxes import needs a FILE.csv');
  let text: string;
  try {
    text = io.readFile(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const { rows, problems } = readMailboxCsv(text);
  if (problems.length > 0) {
    io.stderr.write(
      `pop3-poller mailboxes: ${file}: ${problems.length} bad line(s); nothing written\n` +
        formatProblems(file, problems),
    );
    return VALIDATION_FAILED;
  }
  const withPassword = rows.filter((row) => row.password !== undefined).length;
  if (dryRun) {
    io.stdout.write(
      `${rows.length} mailboxes validated (${withPassword} with a password for the shared secrets); dry run: nothing written\n`,
    );
    return 0;
  }
  checkTargetOptions('import', target, withPassword > 0);
  if (rows.length === 0) {
    io.stdout.write('0 mailboxes validated; nothing to write\n');
    return 0;
  }
  const context = new MailboxesContext(io, target);
  const { unknown, groupsText } = await checkSchedules(context, rows);
  if (unknown.length > 0) {
    io.stderr.write(
      `pop3-poller mailboxes: ${file}: ${unknown.length} mailbox(es) name a schedule group that stack ` +
        `"${target.stack}" does not have ${groupsText}; nothing written\n` +
        formatProblems(
          file,
          unknown.map((u) => ({ line: u.line, message: `${u.id}: schedule "${u.schedule}"` })),
        ),
    );
    return VALIDATION_FAILED;
  }
  const summary = await writeRows(context, rows);
  io.stdout.write(
    `${rows.length} mailboxes validated; ${summary.written} written; ${summary.secretsUpdated} shared secrets updated` +
      `${summary.secretsCreated > 0 ? ` (${summary.secretsCreated} created)` : ''}\n`,
  );
  return 0;
}
