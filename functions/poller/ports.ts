import type { Readable } from 'node:stream';
import type { AccountConfig, AccountSecret } from './account';
import type { PollEvent } from './events';

/**
 * The ports the poll workflow talks through. The workflow imports no AWS SDK and touches no file
 * system of its own; adapters in `functions/adapters/` implement these for S3, EventBridge,
 * Secrets Manager, and for a local directory and a JSON-lines file.
 */

/**
 * Where an account's login secret (and possibly its connection settings) comes from. Asked once
 * per session, and once more when the server rejects a refreshable access token.
 */
export interface CredentialSource {
  credentials(account: AccountConfig, request?: CredentialRequest): Promise<AccountSecret>;
}

export interface CredentialRequest {
  /**
   * The access token the server just rejected (from a secret marked `refreshable`). The source
   * forgets it wherever it caches it and returns a fresh one — or a newer one already fetched by
   * another caller. Nothing else about the request changes.
   */
  readonly rejectedAccessToken?: string;
}

/** What the archive is told about a message besides its bytes. */
export interface ArchiveItem {
  /** Archive key relative to the store's root, e.g. `support/3f/3f…a9.eml` (see archive-key.ts). */
  readonly key: string;
  readonly accountId: string;
  /** The message's UIDL on the server, when the server has UIDL. */
  readonly uidl?: string;
  /** SHA-256 (hex) of the bytes as received; the store must verify what it stored against it. */
  readonly sha256: string;
  readonly size: number;
  /** The message bytes. A fresh stream each call; a store may call it again to retry. */
  body(): Readable;
  /**
   * The same bytes as one Buffer, when the message is held in memory: a store may write it
   * directly instead of streaming `body()` (performance: no stream per message). Never modified.
   * When `hashedBuffers` has it, its SHA-256 was computed over exactly this Buffer.
   */
  readonly bytes?: Buffer;
}

/**
 * Buffers whose SHA-256 (hex) was computed over exactly their bytes, by whoever made them (the
 * spool, for a message held in memory). A store given such a Buffer as `ArchiveItem.bytes` may
 * take its digest from here instead of hashing it again: the digest covers the very bytes it
 * writes, and they are never modified (performance: hashing a 20 KB message costs ~40 µs of CPU
 * with Node's OpenSSL here, and once per message is enough). A store still hashes whatever it
 * reads from a stream, and still checks the digest and size against the item's.
 */
export const hashedBuffers = new WeakMap<Buffer, string>();

export interface StoredObject {
  /** Where the message now lives, as a URL-like string (`s3://bucket/key`, `file:///…`). */
  readonly location: string;
  /** SHA-256 (hex) of the stored bytes, as computed or verified by the store. */
  readonly sha256: string;
  readonly size: number;
  /** True when an identical object was already there (a re-fetch after an interrupted run). */
  readonly alreadyExisted: boolean;
}

/**
 * Durable storage for message bytes. `put` resolves only once the bytes are durable (fsync'd,
 * or acknowledged by the service with a verified checksum). It never overwrites an existing key
 * with different bytes: an identical object counts as stored, a different one is an error.
 */
export interface ArchiveStore {
  put(item: ArchiveItem): Promise<StoredObject>;
}

export interface PublishOutcome {
  /** Ids of the events that were not published (the caller must not treat them as done). */
  readonly failedIds: readonly string[];
}

/** Where events go. Implementations batch as the service allows and retry transient failures. */
export interface EventSink {
  publish(events: readonly PollEvent[]): Promise<PublishOutcome>;
}

/**
 * For `keep` mode: which UIDLs of an account have been archived, and when. `seen` is given the
 * server's current UIDLs and answers with those already archived, so a store can answer in one
 * read whatever the mailbox size; only new messages cost a write.
 */
export interface SeenUidlStore {
  seen(accountId: string, uidls: readonly string[]): Promise<ReadonlyMap<string, Date>>;
  /** Records UIDLs as archived now. Called as messages complete, so progress is never lost. */
  add(accountId: string, uidls: readonly string[], at: Date): Promise<void>;
  /** Forgets UIDLs that are no longer on the server (deleted there, or by `deleteAfterDays`). */
  forget(accountId: string, uidls: readonly string[]): Promise<void>;
}

/** Wall-clock source, so tests can move time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
