/**
 * What replay reads through. The workflow (replay.ts) touches no file system and no SDK of its
 * own: functions/adapters/directory-archive-reader.ts and s3-archive-reader.ts implement this for a
 * local archive directory and the archive bucket. A reader only lists and reads: it never writes,
 * modifies or deletes an archived object.
 */

/** One original "Message Archived" event of an archived object: what it was built from. */
export interface ArchiveRecord {
  /** The UIDL the message had on its server; null when it had none (or is not known). */
  readonly uidl: string | null;
  /** When the archive stored it (the store's clock). */
  readonly archivedAt: Date;
  /** The envelope `source` of the original event (`pop3-poller`, `ses`, or a configured one). */
  readonly source: string;
}

/** One archived object, as listed. */
export interface ArchiveEntry {
  readonly accountId: string;
  /** Relative to the archive's root (or the bucket's prefix): `<accountId>/<sha256>.eml`. */
  readonly key: string;
  /** The SHA-256 (hex) the key names: the bytes must hash to it. */
  readonly sha256: string;
  /** Size as listed, in octets. */
  readonly size: number;
  /** Where the object is, as the original event said it (`file:///…`, `s3://bucket/key`). */
  readonly location: string;
  /** When the object was last written (its mtime, or S3's LastModified). */
  readonly modifiedAt: Date;
  /**
   * Its original events, one per distinct UIDL, when the listing knows them (the directory's
   * archive log); absent when they are known only once the object is read (S3 object metadata).
   */
  readonly records?: readonly ArchiveRecord[];
}

/** An object opened for reading: its bytes, and its original events. */
export interface OpenedEntry {
  readonly records: readonly ArchiveRecord[];
  /** The bytes, as stored (Buffers, never strings). Read once. */
  readonly body: AsyncIterable<Buffer>;
  /** Stops the read early (a body not consumed, e.g. an entry found out of range). */
  discard(): void;
}

export interface ListOptions {
  /** Only keys strictly after this one (a resumed run's checkpoint). */
  readonly startAfter?: string;
  /** Only keys starting with this (relative to the archive's root). */
  readonly keyPrefix?: string;
}

export interface ArchiveReader {
  /** Every account with a folder in the archive, sorted. */
  accounts(): Promise<string[]>;
  /** The account's objects in key order (byte order of the key), filtered by `options`. */
  list(accountId: string, options?: ListOptions): AsyncIterable<ArchiveEntry>;
  open(entry: ArchiveEntry): Promise<OpenedEntry>;
}

/** Where a run records how far it got, so that an interrupted run can resume after it. */
export interface CheckpointStore {
  /** Every event of every entry up to and including `key` (in replay order) has been emitted. */
  save(key: string): Promise<void>;
}
