import type { AccountConfig } from './account';
import { normaliseUidl } from './archive-key';
import { PollError } from './errors';
import type { MailboxSession, MailboxUid, SeenUidlStore } from './ports';

/**
 * What is in a mailbox and, in keep mode, what of it is new: the listing a poll plans from and a
 * check reports, so that both count the same messages.
 */

/** A message on the server, as listed. */
export interface Candidate {
  readonly messageNumber: number;
  /** Undefined when the server has no UIDL, or gave this one to more than one message. */
  readonly uidl: string | undefined;
  /** The LIST size: a hint (servers get it wrong), good enough for budgets. */
  readonly size: number;
  /**
   * Keep mode with `deleteAfterDays`: its UIDL was archived at least that long ago. It is retrieved
   * again and DELE'd only if the archive already holds exactly its bytes (see splitKeepMode).
   */
  readonly expired?: true;
}

export interface Listing {
  readonly candidates: Candidate[];
  /** The server answered UIDL (RFC 1939 makes it optional). */
  readonly hasUidl: boolean;
}

/** LIST and UIDL, sent together when the server pipelines. */
export async function listMailbox(session: MailboxSession): Promise<Listing> {
  const [list, uidl] = await Promise.all([
    session.list(),
    session.uidl().catch((error: unknown) => {
      if (!session.isOpen) throw error;
      return undefined; // a server without UIDL
    }),
  ]);
  const uidls = uniqueUidls(uidl ?? []);
  return {
    candidates: list.map((entry) => ({
      messageNumber: entry.messageNumber,
      uidl: uidls.get(entry.messageNumber),
      size: entry.size,
    })),
    hasUidl: uidl !== undefined,
  };
}

/**
 * Keep mode: the listed messages not archived before (`fresh`), and those whose UIDL was archived
 * at least `deleteAfterDays` ago (`expired`, marked so). An expired message is not DELE'd on its
 * UIDL's word: RFC 1939 §7 lets a server give a UIDL again once its message is gone, so the one
 * listed under it now may be another. The workflow retrieves it and DELEs it only when the archive
 * already holds exactly those bytes; otherwise it is new, and is archived and kept. A message
 * whose UIDL is missing or duplicated cannot be remembered: it is fresh every run, which costs a
 * re-archive (idempotent) but never loses it.
 */
export async function splitKeepMode(
  account: AccountConfig,
  listing: Listing,
  seenStore: SeenUidlStore | undefined,
  now: Date,
): Promise<{ fresh: Candidate[]; expired: Candidate[] }> {
  if (!listing.hasUidl) {
    throw new PollError('ECONFIG', `account "${account.id}" is in keep mode, but the server has no UIDL`);
  }
  if (!seenStore) throw new PollError('ECONFIG', 'keep mode needs a seen-UIDL store');
  const { candidates } = listing;
  const known = candidates.filter((c) => c.uidl !== undefined).map((c) => c.uidl!);
  const seen = await seenStore.seen(account.id, known);
  const days = account.deleteAfterDays;
  let expired: Candidate[] = [];
  if (days !== undefined) {
    const cutoff = now.getTime() - days * 86_400_000;
    expired = candidates
      .filter((c) => c.uidl !== undefined && (seen.get(c.uidl)?.getTime() ?? Infinity) <= cutoff)
      .map((c) => ({ ...c, expired: true as const }));
  }
  return { fresh: candidates.filter((c) => c.uidl === undefined || !seen.has(c.uidl)), expired };
}

/** Message number → UIDL, leaving out empty UIDLs and any given to more than one message. */
function uniqueUidls(entries: readonly MailboxUid[]): Map<number, string> {
  const count = new Map<string, number>();
  for (const e of entries) count.set(e.uid, (count.get(e.uid) ?? 0) + 1);
  const out = new Map<number, string>();
  for (const e of entries) {
    if (e.uid !== '' && count.get(e.uid) === 1) out.set(e.messageNumber, normaliseUidl(e.uid));
  }
  return out;
}
