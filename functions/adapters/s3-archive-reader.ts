import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { EVENT_SOURCE } from '../poller/events';
import type { ArchiveEntry, ArchiveReader, ArchiveRecord, ListOptions, OpenedEntry } from '../replay/ports';
import { ArchiveError } from './errors';
import { describeSdkError, isTransient } from './sdk-errors';

/**
 * Reads the archive bucket (S3ArchiveStore's layout, `<prefix><account>/<sha256>.eml`) for replay,
 * with two operations only: ListObjectsV2 and GetObject. It never writes, copies, tags or deletes.
 *
 * - Accounts: the "folders" under the prefix (ListObjectsV2 with `Delimiter: '/'`).
 * - Listing: ListObjectsV2 with `Prefix: <prefix><account>/` (or the longer key prefix asked
 *   for) and `StartAfter` a resumed run's checkpoint; S3 lists keys in UTF-8 byte order, the order
 *   replay emits in. Keys that are not `<account>/<64 hex>.eml` are ignored.
 * - Reading: GetObject with `ChecksumMode: ENABLED`, so the SDK checks the bytes against the
 *   object's full-object SHA-256 as they arrive (replay then hashes them against the key itself).
 *   The original event comes from the object's user metadata: `uidl` (absent: null),
 *   `archived-at` (absent or not a date, as for objects written by older versions: LastModified),
 *   `event-source` (absent: `pop3-poller`). One object is one original event: the store writes
 *   metadata once, so identical bytes stored again under another UIDL keep the first one's.
 */
export interface S3ArchiveReaderOptions {
  readonly bucket: string;
  /** As given to S3ArchiveStore. @default '' */
  readonly prefix?: string;
}

const MESSAGE_NAME = /^[0-9a-f]{64}\.eml$/;

export class S3ArchiveReader implements ArchiveReader {
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    options: S3ArchiveReaderOptions,
  ) {
    if (!options.bucket) throw new Error('S3ArchiveReader: bucket is required');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
  }

  async accounts(): Promise<string[]> {
    const accounts: string[] = [];
    for await (const page of this.pages({ Prefix: this.prefix, Delimiter: '/' })) {
      for (const common of page.CommonPrefixes ?? []) {
        const name = common.Prefix?.slice(this.prefix.length, -1);
        if (name) accounts.push(name);
      }
    }
    return accounts.sort();
  }

  async *list(accountId: string, options: ListOptions = {}): AsyncGenerator<ArchiveEntry> {
    const folder = `${accountId}/`;
    const within = options.keyPrefix?.startsWith(folder) ? options.keyPrefix : folder;
    for await (const page of this.pages({
      Prefix: this.prefix + within,
      ...(options.startAfter !== undefined ? { StartAfter: this.prefix + options.startAfter } : {}),
    })) {
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.prefix.length);
        if (key === undefined || !key.startsWith(folder)) continue;
        const name = key.slice(folder.length);
        if (!MESSAGE_NAME.test(name)) continue;
        yield {
          accountId,
          key,
          sha256: name.slice(0, 64),
          size: object.Size ?? 0,
          location: this.location(key),
          modifiedAt: object.LastModified ?? new Date(0),
        };
      }
    }
  }

  async open(entry: ArchiveEntry): Promise<OpenedEntry> {
    const key = this.prefix + entry.key;
    let output;
    try {
      output = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }),
      );
    } catch (error) {
      throw this.failure(error, key);
    }
    const metadata = output.Metadata ?? {};
    const stated = metadata['archived-at'] ? new Date(metadata['archived-at']) : undefined;
    const record: ArchiveRecord = {
      uidl: metadata['uidl'] || null,
      archivedAt:
        stated !== undefined && !Number.isNaN(stated.getTime())
          ? stated
          : (output.LastModified ?? entry.modifiedAt),
      source: metadata['event-source'] || EVENT_SOURCE,
    };
    const body = output.Body as Readable | undefined;
    if (!body)
      throw new ArchiveError('unavailable', key, `S3 GetObject ${this.location(entry.key)} returned no body`);
    return {
      records: [record],
      body: bytesOf(body, () => this.location(entry.key)),
      discard: () => body.destroy(),
    };
  }

  private async *pages(input: { Prefix: string; Delimiter?: string; StartAfter?: string }) {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            ...input,
            ...(token !== undefined ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (error) {
        throw this.failure(error, input.Prefix);
      }
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  private location(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  private failure(error: unknown, key: string): ArchiveError {
    return new ArchiveError(
      'unavailable',
      key,
      `S3 failed for s3://${this.bucket}/${key}: ${describeSdkError(error)}`,
      {
        cause: error,
        retryable: isTransient(error),
      },
    );
  }
}

/** The body's chunks as Buffers; a failure mid-read (a checksum mismatch included) names the object. */
async function* bytesOf(body: Readable, where: () => string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) {
      yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    }
  } catch (error) {
    throw new ArchiveError('unavailable', where(), `reading ${where()} failed: ${describeSdkError(error)}`, {
      cause: error,
      retryable: isTransient(error),
    });
  }
}
