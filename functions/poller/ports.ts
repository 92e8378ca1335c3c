import type { Readable } from 'node:stream';
import type { AuthMethod } from '../pop3';
import type { AccountConfig, AccountSecret } from './account';
import type { PollEvent } from './events';
import type { ProviderPreset } from './providers';

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
  /**
   * When the message is archived (the caller's clock). The store records it with the object, and
   * the "Message Archived" event carries it, so a replay rebuilds the event exactly (replay).
   */
  readonly archivedAt: Date;
  /** The source of the message's event (`pop3-poller`, `ses`, …); recorded with the object. */
  readonly source: string;
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
  /**
   * When the archive first stored these bytes: the item's `archivedAt` for a new object, the time
   * recorded with the existing one otherwise (so its events keep one `archivedAt` across re-fetches).
   */
  readonly archivedAt: Date;
}

/**
 * Durable storage for message bytes. `put` resolves only once the bytes are durable (fsync'd,
 * or acknowledged by the service with a verified checksum), together with what the message's event
 * is rebuilt from on replay: account, UIDL, archive time and event source. It never overwrites an existing key
 * with different bytes: an identical object counts as stored, a different one is an error.
 */
export interface ArchiveStore {
  put(item: ArchiveItem): Promise<StoredObject>;
}

export interface PublishOutcome {
  /** Ids of the events that were not published (the caller must not treat them as done). */
  readonly failedIds: readonly string[];
  /**
   * False when the sink knows that publishing them again cannot succeed until someone acts (an
   * events file the OS refuses: permission, a read-only mount), so that the failure is reported
   * as one that needs a person, like the same error on the archive. @default true
   */
  readonly retryable?: boolean;
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

/**
 * The mailbox, as the poll workflow sees it: one logged-in session on the server, with only what
 * the workflow needs. Implemented over the POP3 client (pop3-mailbox.ts); the workflow's own files
 * (account-run.ts, poll-session.ts and the pieces they use) know nothing else of POP3.
 *
 * Commands may be issued without awaiting earlier ones; replies come back in order (RFC 2449 §6.6
 * PIPELINING where the server has it). Nothing marked deleted is removed until `quit` (RFC 1939 §6).
 */
export interface MailboxSession {
  /** False once the connection is gone: nothing more can be fetched or deleted in this session. */
  readonly isOpen: boolean;
  /** RFC 2449 §6.5 LOGIN-DELAY: seconds the server wants between logins, when it says. */
  readonly loginDelaySeconds: number | undefined;
  /** RFC 2449 §6.7 EXPIRE: days the server keeps retrieved mail (0: removed at the session's end). */
  readonly expireDays: number | undefined;
  /** Largest message the session retrieves; the RETR of a larger one fails part-way. */
  readonly maxMessageBytes: number;
  /** The session's own error for a message over `maxMessageBytes` by its LIST size. */
  tooLarge(messageNumber: number, size: number): Error;

  stat(): Promise<MailboxStatus>;
  list(): Promise<readonly MailboxEntry[]>;
  /** Rejects at a server without UIDL (optional in RFC 1939 §7); check `isOpen` to tell. */
  uidl(): Promise<readonly MailboxUid[]>;
  /** RETR: resolves at the server's `+OK`; the bodies must be read in the order requested. */
  retr(messageNumber: number): Promise<MessageBody>;
  /** Marks a message deleted; it is removed only by a successful `quit` (RFC 1939 §6). */
  dele(messageNumber: number): Promise<void>;
  /** Ends the session; the server then removes what was marked deleted (RFC 1939 §6). */
  quit(): Promise<void>;
  /** Drops the connection without QUIT: the server removes nothing (RFC 1939 §6). */
  abort(): void;

  /** For reports: capability tags after login, the TLS version, and how the session logged in. */
  readonly capabilityTags: readonly string[];
  readonly tlsProtocol: string | undefined;
  readonly loginMethod: AuthMethod | undefined;
}

export interface MailboxStatus {
  readonly count: number;
  readonly size: number;
}

export interface MailboxEntry {
  readonly messageNumber: number;
  /** The LIST size: a hint (servers get it wrong), good enough for budgets. */
  readonly size: number;
}

export interface MailboxUid {
  readonly messageNumber: number;
  readonly uid: string;
}

/** The bytes of one retrieved message, as they arrive (Buffers, never strings). */
export interface MessageBody extends AsyncIterable<Buffer> {
  /**
   * Optional fast path: takes the first bytes, up to `limit`, directly (see spool.ts); `ended`
   * says whether they are the whole message, and the rest then comes through iteration.
   */
  collect?(limit: number): Promise<{ parts: Buffer[]; size: number; ended: boolean }>;
}

/**
 * Where a run opens its sessions: logs in for the account (with the one token refresh on a
 * rejected access token) and says what the login resolved.
 */
export interface Mailbox {
  /**
   * `signal`: the run's hard stop (hard-stop.ts); when it aborts, the login and the session it
   * opened are cut without QUIT. (The run also calls the session's `abort()` then.)
   */
  open(options?: { readonly signal?: AbortSignal }): Promise<MailboxLogin>;
}

export interface MailboxLogin {
  readonly session: MailboxSession;
  /** The provider preset that applies (its `partialListing` makes a run drain in sessions). */
  readonly preset: ProviderPreset | undefined;
  /** The login may never delete (Gmail `recent:`): the account runs in keep mode. */
  readonly keepOnly: boolean;
}
