import type { RegistryEntry } from '../../registry/ports';
import type { MailboxRecord } from '../../registry/record';
import {
  checkTargetOptions,
  MailboxesContext,
  unknownSchedules,
  type MailboxesIo,
  type TargetOptions,
} from './context';
import { writeMailboxCsv } from './rows';

async function readAll(
  io: MailboxesIo,
  target: TargetOptions,
  command: string,
): Promise<{ entries: RegistryEntry[]; groups: readonly string[] | undefined }> {
  checkTargetOptions(command, target, false);
  const context = new MailboxesContext(io, target);
  const registry = await context.registry();
  const { groups } = await context.resolve();
  const entries: RegistryEntry[] = [];
  for await (const entry of registry.entries()) entries.push(entry);
  return { entries: entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), groups };
}

/** What `list` writes after a schedule no group of the stack has. */
export const UNKNOWN_GROUP_MARK = '(no such group)';

/**
 * `mailboxes list [--json]`: one line per item — id, host, username, mode, schedule and the last
 * poll (time, status, error code). `--json`: one RegistryEntry per line. With `--stack`, a
 * schedule that is not one of the stack's groups is marked (such a mailbox is never polled) and
 * counted on stderr; with `--json` such an entry has `"scheduleUnknown": true`.
 */
export async function listMailboxes(io: MailboxesIo, target: TargetOptions, json: boolean): Promise<number> {
  const { entries, groups } = await readAll(io, target, 'list');
  const orphaned = new Set(
    unknownSchedules(
      entries.flatMap((e) => (e.record ? [e.record] : [])),
      groups,
    ).map((u) => u.id),
  );
  if (orphaned.size > 0) {
    io.stderr.write(
      `pop3-poller mailboxes: ${orphaned.size} mailbox(es) name a schedule group that stack "${target.stack}" does not have ` +
        `(its groups: ${groups!.join(', ') || 'none'}), so they are never polled: marked ${UNKNOWN_GROUP_MARK}\n`,
    );
  }
  if (json) {
    io.stdout.write(
      entries
        .map((e) => `${JSON.stringify(orphaned.has(e.id) ? { ...e, scheduleUnknown: true } : e)}\n`)
        .join(''),
    );
    return 0;
  }
  const rows = entries.map((e) => {
    const poll = e.lastPoll
      ? [e.lastPoll.at, e.lastPoll.status, ...(e.lastPoll.code ? [e.lastPoll.code] : [])].join(' ')
      : 'never polled';
    if (e.record) {
      const r = e.record;
      const schedule = orphaned.has(r.id) ? `${r.schedule} ${UNKNOWN_GROUP_MARK}` : (r.schedule ?? '-');
      return [r.id, r.host ?? r.provider ?? '-', r.username, r.mode ?? 'delete', schedule, poll];
    }
    if (e.problems) return [e.id, '(invalid record)', '', '', '', `${poll}; ${e.problems.join('; ')}`];
    return [e.id, '(stack config)', '', '', '', poll];
  });
  const header = ['ID', 'HOST', 'USERNAME', 'MODE', 'SCHEDULE', 'LAST POLL'];
  const widths = header.map((h, n) => Math.max(h.length, ...rows.map((r) => r[n]!.length)));
  const format = (row: readonly string[]) =>
    row
      .map((cell, n) => (n === row.length - 1 ? cell : cell.padEnd(widths[n]!)))
      .join('  ')
      .trimEnd();
  io.stdout.write([header, ...rows].map((r) => `${format(r)}\n`).join(''));
  return 0;
}

/**
 * `mailboxes export`: the registry's records as CSV on stdout (RECORD_KEYS columns, no passwords:
 * the registry holds none), which `import` reads back. Items without a record (mailboxes from the
 * stack's config) are left out; invalid ones are named on stderr, and the exit status is then 1.
 */
export async function exportMailboxes(io: MailboxesIo, target: TargetOptions): Promise<number> {
  const { entries } = await readAll(io, target, 'export');
  const records: MailboxRecord[] = entries.flatMap((e) => (e.record ? [e.record] : []));
  io.stdout.write(writeMailboxCsv(records));
  const invalid = entries.filter((e) => e.problems);
  for (const e of invalid) {
    io.stderr.write(`pop3-poller mailboxes: skipped ${e.id}: ${e.problems!.join('; ')}\n`);
  }
  return invalid.length > 0 ? 1 : 0;
}
