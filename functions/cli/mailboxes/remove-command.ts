import type { RegistryEntry } from '../../registry/ports';
import { UsageError } from '../command-args';
import { checkTargetOptions, MailboxesContext, type MailboxesIo, type TargetOptions } from './context';

/**
 * `mailboxes remove ID…`: deletes the mailboxes' items, then the entries their records had in the
 * CLI's shared secrets (a secretId that is one of `<prefix>shared-NNNN`). A per-mailbox secret or
 * one the operator manages is left alone. The registry goes first: a stray entry in a secret is
 * harmless, a record pointing at a removed entry is a failing poll.
 */
export async function removeMailboxes(
  io: MailboxesIo,
  target: TargetOptions,
  ids: readonly string[],
): Promise<number> {
  if (ids.length === 0) throw new UsageError('mailboxes remove needs at least one ID');
  checkTargetOptions('remove', target, false);
  const context = new MailboxesContext(io, target);
  const registry = await context.registry();
  const unique = [...new Set(ids)];
  const found: RegistryEntry[] = [];
  for (const id of unique) {
    const entry = await registry.entry(id);
    if (entry) found.push(entry);
  }
  await registry.removeRecords(found.map((e) => e.id));

  const filler = await context.filler();
  let entriesRemoved = 0;
  const inShared = found.filter((e) => e.record && filler?.isShared(e.record.secretId));
  if (filler && inShared.length > 0) {
    await filler.load(inShared.map((e) => e.record!.secretId));
    for (const e of inShared) {
      if (filler.remove(e.record!.secretKey ?? e.id, e.record!.secretId)) entriesRemoved++;
    }
    await filler.save();
  }
  const missing = unique.filter((id) => !found.some((e) => e.id === id));
  io.stdout.write(
    `${found.length} mailbox(es) removed; ${entriesRemoved} shared secret entr${entriesRemoved === 1 ? 'y' : 'ies'} removed` +
      `${missing.length > 0 ? `; not registered: ${missing.join(', ')}` : ''}\n`,
  );
  if (!filler && found.some((e) => e.record)) {
    io.stderr.write(
      'pop3-poller mailboxes: warning: no --secret-prefix: entries in shared secrets, if any, were left in place\n',
    );
  }
  return 0;
}
