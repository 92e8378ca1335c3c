import type { MailboxRecord } from '../../registry/record';
import { GROUPS_OUTPUT, unknownSchedules, type MailboxesContext } from './context';
import type { MailboxRow } from './rows';

export interface WriteSummary {
  readonly written: number;
  /** Shared secrets created or rewritten. */
  readonly secretsUpdated: number;
  readonly secretsCreated: number;
  /** Id → the shared secret its password went into. */
  readonly placed: ReadonlyMap<string, string>;
}

/**
 * Writes validated rows: passwords into shared secrets first (so that no record ever points at an
 * entry that is not there yet), then the records, each with its secretId set to its secret.
 */
export async function writeRows(
  context: MailboxesContext,
  rows: readonly MailboxRow[],
): Promise<WriteSummary> {
  const placed = new Map<string, string>();
  let secretsUpdated = 0;
  let secretsCreated = 0;
  if (rows.some((row) => row.password !== undefined)) {
    const filler = await context.filler();
    // checkTargetOptions made sure a prefix is known when a row has a password.
    if (!filler) throw new Error('no secret name prefix is known for the shared secrets');
    await filler.load();
    for (const row of rows) {
      if (row.password !== undefined) placed.set(row.record.id, filler.place(row.record.id, row.password));
    }
    const saved = await filler.save();
    secretsCreated = saved.created.length;
    secretsUpdated = saved.created.length + saved.updated.length;
  }
  const records: MailboxRecord[] = rows.map((row) => {
    const secretId = row.record.secretId ?? placed.get(row.record.id);
    if (secretId === undefined) throw new Error(`mailbox "${row.record.id}" has no secret`);
    return { ...row.record, secretId };
  });
  const registry = await context.registry();
  await registry.putRecords(records);
  return { written: records.length, secretsUpdated, secretsCreated, placed };
}

/** Rows that name a schedule group the target stack does not have, and what to say about them. */
export interface ScheduleCheck {
  /** Bad rows (their file line, 0 for `add`), with the group each names. */
  readonly unknown: readonly { readonly line: number; readonly id: string; readonly schedule: string }[];
  /** `(its groups: a, b)`, for the message. */
  readonly groupsText: string;
}

/**
 * Checks each row's `schedule` against the stack's groups (its ScheduleGroups output), before
 * anything is written: a record naming no group would never be polled. With `--table` the groups
 * are unknown and every schedule is accepted; with a stack deployed before the output existed,
 * too, with a note on stderr when a row names a schedule.
 */
export async function checkSchedules(
  context: MailboxesContext,
  rows: readonly MailboxRow[],
): Promise<ScheduleCheck> {
  const { groups } = await context.resolve();
  const { stack } = context.options;
  if (groups === undefined && stack !== undefined && rows.some((row) => row.record.schedule !== undefined)) {
    context.io.stderr.write(
      `pop3-poller mailboxes: note: stack "${stack}" has no ${GROUPS_OUTPUT} output (deployed by an older version): ` +
        'schedule groups not checked\n',
    );
  }
  const lineOf = new Map(rows.map((row) => [row.record.id, row.line]));
  const unknown = unknownSchedules(
    rows.map((row) => row.record),
    groups,
  ).map((u) => ({ ...u, line: lineOf.get(u.id) ?? 0 }));
  return { unknown, groupsText: `(its groups: ${(groups ?? []).join(', ') || 'none'})` };
}
