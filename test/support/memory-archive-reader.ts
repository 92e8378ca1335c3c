import { createHash } from 'node:crypto';
import { archiveKey } from '../../functions/poller/archive-key';
import type {
  ArchiveEntry,
  ArchiveReader,
  ArchiveRecord,
  ListOptions,
  OpenedEntry,
} from '../../functions/replay/ports';

/**
 * An archive in memory for the replay workflow's tests: objects with their original records, either
 * known at listing (as the directory's archive log gives them) or only once opened (as S3 object
 * metadata). Counts what was opened and how many reads ran at once.
 */
export interface MemoryObject {
  readonly accountId: string;
  readonly bytes: Buffer;
  readonly records: readonly ArchiveRecord[];
  /** Stored under another key than its hash names (a corrupt object). */
  readonly key?: string;
  /** When the object was written; default: the first record's time. */
  readonly modifiedAt?: Date;
}

export class MemoryArchiveReader implements ArchiveReader {
  readonly objects: MemoryObject[] = [];
  readonly opened: string[] = [];
  /** Reads in progress, and the most seen at once. */
  reading = 0;
  maxReading = 0;
  /** Resolves when the read of a key may finish (default: at once). */
  gate: (key: string) => Promise<void> = async () => {};
  /** Records known only when opened (S3). */
  recordsOnOpen = false;

  add(object: MemoryObject): string {
    this.objects.push(object);
    return keyOf(object);
  }

  async accounts(): Promise<string[]> {
    return [...new Set(this.objects.map((o) => o.accountId))].sort();
  }

  async *list(accountId: string, options: ListOptions = {}): AsyncGenerator<ArchiveEntry> {
    const mine = this.objects
      .filter((o) => o.accountId === accountId)
      .map((o) => ({ o, key: keyOf(o) }))
      .filter(({ key }) => options.startAfter === undefined || key > options.startAfter)
      .filter(({ key }) => options.keyPrefix === undefined || key.startsWith(options.keyPrefix))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    for (const { o, key } of mine) {
      yield {
        accountId,
        key,
        sha256: key.slice(accountId.length + 1, -4),
        size: o.bytes.length,
        location: `memory://${key}`,
        modifiedAt: o.modifiedAt ?? o.records[0]!.archivedAt,
        ...(this.recordsOnOpen ? {} : { records: o.records }),
      };
    }
  }

  async open(entry: ArchiveEntry): Promise<OpenedEntry> {
    const object = this.objects.find((o) => keyOf(o) === entry.key)!;
    this.opened.push(entry.key);
    this.reading += 1;
    this.maxReading = Math.max(this.maxReading, this.reading);
    const gate = this.gate(entry.key);
    const done = () => (this.reading -= 1);
    const bytes = object.bytes;
    async function* body(): AsyncGenerator<Buffer> {
      try {
        await gate;
        // In two parts, as a stream would give them.
        yield bytes.subarray(0, 10);
        yield bytes.subarray(10);
      } finally {
        done();
      }
    }
    let discarded = false;
    return {
      records: object.records,
      body: body(),
      discard: () => {
        if (!discarded) done();
        discarded = true;
      },
    };
  }
}

export function keyOf(object: MemoryObject): string {
  return object.key ?? archiveKey(object.accountId, createHash('sha256').update(object.bytes).digest('hex'));
}
