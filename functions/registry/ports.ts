import type { LastPoll, MailboxRecord } from './record';

/**
 * The mailbox registry as the handlers and the CLI see it. The DynamoDB adapter
 * (functions/adapters/dynamodb-registry.ts) implements it; tests use an in-memory one.
 */

/** One item as read: a valid record, an invalid one (with its problems), or only a last poll. */
export interface RegistryEntry {
  readonly id: string;
  /** Absent for an item that only holds `lastPoll` (a mailbox configured in infra/config.ts). */
  readonly record?: MailboxRecord;
  /** Why the stored record cannot be used; set instead of `record`. Never holds a value. */
  readonly problems?: readonly string[];
  readonly lastPoll?: LastPoll;
  readonly updatedAt?: string;
}

export interface RegistryReader {
  /** Every item, page by page (a Scan: the registry is read whole at each tick). */
  entries(): AsyncIterable<RegistryEntry>;
}

export interface LastPollWriter {
  /** Sets `lastPoll` of the mailbox's item (creating a last-poll-only item when there is none). */
  writeLastPoll(id: string, lastPoll: LastPoll): Promise<void>;
}

export interface RegistryWriter {
  /** Writes records (replacing any with the same id); resolves once every one is written. */
  putRecords(records: readonly MailboxRecord[]): Promise<void>;
  /** Removes mailboxes; an id that is not there is not an error. */
  removeRecords(ids: readonly string[]): Promise<void>;
}
