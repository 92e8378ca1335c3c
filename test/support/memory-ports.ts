import { createHash } from 'node:crypto';
import type { AccountConfig, AccountSecret } from '../../functions/poller/account';
import type { PollEvent } from '../../functions/poller/events';
import type {
  ArchiveItem,
  ArchiveStore,
  CredentialSource,
  EventSink,
  PublishOutcome,
  SeenUidlStore,
  StoredObject,
} from '../../functions/poller/ports';

/**
 * In-memory implementations of the workflow's ports, with hooks to make them fail at chosen
 * points. They keep what a real adapter keeps, so tests can assert exactly what was archived.
 */

export class MemoryArchive implements ArchiveStore {
  readonly objects = new Map<string, Buffer>();
  /** When each key was first stored (the item's archivedAt then), as a real store records it. */
  readonly archivedAt = new Map<string, Date>();
  /** Every put, in order, with its outcome. */
  readonly puts: Array<{ key: string; ok: boolean }> = [];
  /** Return an error to make that put fail. */
  failWhen: (item: ArchiveItem, bytes: Buffer) => Error | undefined = () => undefined;
  /** Pretend to have stored different bytes (for integrity checks). */
  corruptWhen: (item: ArchiveItem) => boolean = () => false;

  async put(item: ArchiveItem): Promise<StoredObject> {
    const parts: Buffer[] = [];
    for await (const chunk of item.body()) parts.push(chunk as Buffer);
    const bytes = Buffer.concat(parts);
    const failure = this.failWhen(item, bytes);
    if (failure) {
      this.puts.push({ key: item.key, ok: false });
      throw failure;
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== item.sha256) throw new Error(`checksum mismatch for ${item.key}`);
    const existing = this.objects.get(item.key);
    if (existing && !existing.equals(bytes)) throw new Error(`different object exists at ${item.key}`);
    this.objects.set(item.key, bytes);
    if (!this.archivedAt.has(item.key)) this.archivedAt.set(item.key, item.archivedAt);
    this.puts.push({ key: item.key, ok: true });
    const stored = this.corruptWhen(item) ? createHash('sha256').update('other').digest('hex') : sha256;
    return {
      location: `memory://${item.key}`,
      sha256: stored,
      size: bytes.length,
      alreadyExisted: !!existing,
      archivedAt: this.archivedAt.get(item.key)!,
    };
  }

  /** The archived messages' bytes, sorted, for comparing with what was delivered. */
  contents(): Buffer[] {
    return [...this.objects.values()].sort(Buffer.compare);
  }
}

export class MemoryEventSink implements EventSink {
  readonly events: PollEvent[] = [];
  /** Return true to report that event as failed. */
  failWhen: (event: PollEvent) => boolean = () => false;
  /** Set to make the whole publish call reject. */
  rejectWith: Error | undefined;

  async publish(events: readonly PollEvent[]): Promise<PublishOutcome> {
    if (this.rejectWith) throw this.rejectWith;
    const failedIds: string[] = [];
    for (const event of events) {
      if (this.failWhen(event)) failedIds.push(event.id);
      else this.events.push(event);
    }
    return { failedIds };
  }

  ofType(detailType: string): PollEvent[] {
    return this.events.filter((e) => e.detailType === detailType);
  }
}

export class MemorySeenStore implements SeenUidlStore {
  readonly entries = new Map<string, Map<string, Date>>();

  async seen(accountId: string, uidls: readonly string[]): Promise<ReadonlyMap<string, Date>> {
    const known = this.entries.get(accountId) ?? new Map<string, Date>();
    return new Map(uidls.filter((u) => known.has(u)).map((u) => [u, known.get(u)!]));
  }

  async add(accountId: string, uidls: readonly string[], at: Date): Promise<void> {
    const known = this.entries.get(accountId) ?? new Map<string, Date>();
    for (const u of uidls) if (!known.has(u)) known.set(u, at);
    this.entries.set(accountId, known);
  }

  async forget(accountId: string, uidls: readonly string[]): Promise<void> {
    for (const u of uidls) this.entries.get(accountId)?.delete(u);
  }
}

export class StaticCredentials implements CredentialSource {
  constructor(private readonly secrets: Record<string, AccountSecret>) {}

  async credentials(account: AccountConfig): Promise<AccountSecret> {
    const secret = this.secrets[account.id];
    if (!secret)
      throw Object.assign(new Error(`no secret for ${account.id}`), {
        code: 'ECREDENTIALS',
        retryable: false,
      });
    return secret;
  }
}
