import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SeenUidlStore } from '../poller/ports';
import { SeenStoreError } from './errors';
import { backoffMs, describeSdkError, errorName, httpStatus, isTransient, sleep } from './sdk-errors';

/**
 * Keep-mode state in S3, for the Lambda worker: one JSON object per account at
 * `s3://<bucket>/<prefix><accountId>.json`, mapping each archived UIDL to when it was archived:
 *
 * ```json
 * { "UID-17": "2025-03-04T10:00:00.000Z", "UID-18": "2025-03-04T10:00:01.000Z" }
 * ```
 *
 * Reads: `seen` costs one GetObject per account, whatever the mailbox size (a missing object is
 * an empty state); the state is then kept in memory for the life of the instance (create one per
 * run).
 *
 * Writes: `add` and `forget` change the state in memory and `flush()` writes it back, also every
 * `flushEvery` changes so that a run interrupted by a crash or a timeout keeps most of its
 * progress (what is lost is only re-archived next run: the archive is idempotent). Every write is
 * conditional — `If-Match` on the ETag the state was read or last written with, or
 * `If-None-Match: *` when there was no object — so two writers (an overlapping retry, a manual
 * run) cannot silently overwrite each other's updates. When S3 answers 412 Precondition Failed
 * (or 409 ConditionalRequestConflict, or 404 to an `If-Match`), the object is read again, this
 * instance's unsaved changes are applied on top of it, and the write is retried, up to
 * `maxAttempts` times. Merging keeps the earlier archive time of a UIDL both writers added.
 *
 * Errors are `SeenStoreError`s (errors.ts, `code` `ESTATE`) whose `retryable` says whether the
 * S3 failure is transient; a state object that is not what this store writes is not retryable (a
 * human has to look). Changes that failed to be written are kept for the next `flush()`.
 *
 * IAM: `s3:GetObject` and `s3:PutObject` on `<prefix>*`. Without `s3:ListBucket`, S3 answers 403
 * rather than 404 for an account that has no state yet; `createIfMissing` tells the two apart.
 */

export interface S3SeenStoreOptions {
  readonly bucket: string;
  /** Prepended to `<accountId>.json` as given, e.g. `state/`. @default '' */
  readonly prefix?: string;
  /** Encrypt state objects with this KMS key (SSE-KMS with an S3 Bucket Key). @default the bucket's default */
  readonly kmsKeyId?: string;
  /** Write the state after this many unsaved changes. @default 100 */
  readonly flushEvery?: number;
  /** Writes attempted when another writer keeps changing the object. @default 5 */
  readonly maxAttempts?: number;
  /** First delay between those attempts; doubles each time. @default 100 */
  readonly retryBaseDelayMs?: number;
  /** For tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** An unsaved change to one UIDL: archived at that time, or `null` for forgotten. */
type Change = Date | null;

interface AccountState {
  entries: Map<string, Date>;
  /** ETag of the object the entries were read from or last written as; undefined: there was none. */
  etag: string | undefined;
  /** The stored object's ETag is not known (a write returned none): read it again before writing. */
  stale: boolean;
  /** Changes not yet known to be stored, newest last. */
  pending: Map<string, Change>;
  /** The write in progress, if any: writes of one account never overlap. */
  writing: Promise<void>;
}

export class S3SeenStore implements SeenUidlStore {
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly kmsKeyId: string | undefined;
  private readonly flushEvery: number;
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly states = new Map<string, Promise<AccountState>>();

  constructor(
    private readonly client: S3Client,
    options: S3SeenStoreOptions,
  ) {
    if (!options.bucket) throw new Error('S3SeenStore: bucket is required');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.kmsKeyId = options.kmsKeyId || undefined;
    this.flushEvery = options.flushEvery ?? 100;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 100;
    this.sleep = options.sleep ?? sleep;
    if (!Number.isInteger(this.flushEvery) || this.flushEvery < 1) {
      throw new Error('S3SeenStore: flushEvery must be a positive integer');
    }
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new Error('S3SeenStore: maxAttempts must be a positive integer');
    }
  }

  async seen(accountId: string, uidls: readonly string[]): Promise<ReadonlyMap<string, Date>> {
    const state = await this.state(accountId);
    const out = new Map<string, Date>();
    for (const uidl of uidls) {
      const at = state.entries.get(uidl);
      if (at !== undefined) out.set(uidl, at);
    }
    return out;
  }

  async add(accountId: string, uidls: readonly string[], at: Date): Promise<void> {
    const state = await this.state(accountId);
    for (const uidl of uidls) {
      if (state.entries.has(uidl)) continue; // keep the first archive time
      state.entries.set(uidl, at);
      state.pending.set(uidl, at);
    }
    if (state.pending.size >= this.flushEvery) await this.flushAccount(accountId, state);
  }

  async forget(accountId: string, uidls: readonly string[]): Promise<void> {
    const state = await this.state(accountId);
    for (const uidl of uidls) {
      // Recorded even when absent here: a concurrent writer's copy may still have it.
      state.entries.delete(uidl);
      state.pending.set(uidl, null);
    }
    if (state.pending.size >= this.flushEvery) await this.flushAccount(accountId, state);
  }

  /** Writes the unsaved changes of one account, or of every account this instance has touched. */
  async flush(accountId?: string): Promise<void> {
    const ids = accountId === undefined ? [...this.states.keys()] : [accountId];
    for (const id of ids) {
      const loading = this.states.get(id);
      if (loading === undefined) continue;
      await this.flushAccount(id, await loading);
    }
  }

  /** The object key of an account's state. */
  key(accountId: string): string {
    return `${this.prefix}${accountId}.json`;
  }

  private state(accountId: string): Promise<AccountState> {
    let loading = this.states.get(accountId);
    if (loading === undefined) {
      loading = this.read(accountId).then(({ entries, etag }) => ({
        entries,
        etag,
        stale: false,
        pending: new Map<string, Change>(),
        writing: Promise.resolve(),
      }));
      this.states.set(accountId, loading);
      // A failed read is not kept: the next call tries again.
      loading.catch(() => this.states.delete(accountId));
    }
    return loading;
  }

  private flushAccount(accountId: string, state: AccountState): Promise<void> {
    const run = state.writing.then(() => this.write(accountId, state));
    state.writing = run.catch(() => undefined);
    return run;
  }

  private async write(accountId: string, state: AccountState): Promise<void> {
    if (state.pending.size === 0) return;
    // Changes made while this write is in flight stay pending for the next one.
    const changes = state.pending;
    state.pending = new Map();
    try {
      for (let attempt = 1; ; attempt++) {
        if (state.stale) await this.reload(accountId, state, changes);
        try {
          const output = await this.client.send(this.putCommand(accountId, state));
          state.etag = output.ETag;
          state.stale = output.ETag === undefined;
          return;
        } catch (error) {
          if (!isWriteConflict(error)) throw this.wrap(error, accountId, 'writing');
          if (attempt >= this.maxAttempts) {
            throw new SeenStoreError(
              `writing ${this.location(accountId)} kept conflicting with another writer (${attempt} attempts)`,
              { cause: error, retryable: true },
            );
          }
          state.stale = true;
          await this.sleep(backoffMs(attempt, this.retryBaseDelayMs));
        }
      }
    } catch (error) {
      // Keep what was not written; a change made meanwhile is newer and wins.
      state.pending = new Map([...changes, ...state.pending]);
      throw error;
    }
  }

  private putCommand(accountId: string, state: Pick<AccountState, 'entries' | 'etag'>): PutObjectCommand {
    const body = Buffer.from(serialise(state.entries), 'utf8');
    return new PutObjectCommand({
      Bucket: this.bucket,
      Key: this.key(accountId),
      Body: body,
      ContentLength: body.length,
      ContentType: 'application/json',
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
      ...(state.etag !== undefined ? { IfMatch: state.etag } : { IfNoneMatch: '*' }),
      ...(this.kmsKeyId !== undefined
        ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.kmsKeyId, BucketKeyEnabled: true }
        : {}),
    });
  }

  /** After a conflict: the stored state, with this instance's unsaved changes applied on top. */
  private async reload(accountId: string, state: AccountState, inFlight: Map<string, Change>): Promise<void> {
    const { entries, etag } = await this.read(accountId);
    for (const [uidl, change] of [...inFlight, ...state.pending]) {
      if (change === null) entries.delete(uidl);
      else if (!entries.has(uidl)) entries.set(uidl, change);
    }
    state.entries = entries;
    state.etag = etag; // undefined: the object is gone, so the next write is If-None-Match
    state.stale = false;
  }

  private async read(accountId: string): Promise<{ entries: Map<string, Date>; etag: string | undefined }> {
    let text: string;
    let etag: string | undefined;
    try {
      const output = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(accountId) }),
      );
      if (output.Body === undefined) {
        throw new SeenStoreError(`S3 returned no body for ${this.location(accountId)}`, { retryable: true });
      }
      text = await output.Body.transformToString('utf-8');
      etag = output.ETag;
    } catch (error) {
      if (error instanceof SeenStoreError) throw error;
      if (errorName(error) === 'NoSuchKey' || httpStatus(error) === 404) {
        return { entries: new Map(), etag: undefined };
      }
      if (httpStatus(error) === 403) return this.createIfMissing(accountId, error);
      throw this.wrap(error, accountId, 'reading');
    }
    const entries = parse(text, this.location(accountId));
    if (etag === undefined) {
      throw new SeenStoreError(`S3 returned no ETag for ${this.location(accountId)}`, { retryable: true });
    }
    return { entries, etag };
  }

  /**
   * A 403 to the read: without `s3:ListBucket` (which the worker is not granted) S3 answers 403
   * instead of 404 for a missing key, so a 403 may only mean "no state yet". An empty state is
   * written with `If-None-Match: *`: if that succeeds the object was missing, and the state is
   * empty; if S3 answers 412 the object exists and reading it is truly denied, which is reported.
   * Nothing is ever overwritten.
   */
  private async createIfMissing(
    accountId: string,
    denied: unknown,
  ): Promise<{ entries: Map<string, Date>; etag: string | undefined }> {
    try {
      const output = await this.client.send(
        this.putCommand(accountId, { entries: new Map(), etag: undefined } as Pick<
          AccountState,
          'entries' | 'etag'
        >),
      );
      return { entries: new Map(), etag: output.ETag };
    } catch (error) {
      if (isWriteConflict(error)) throw this.wrap(denied, accountId, 'reading');
      throw this.wrap(error, accountId, 'writing');
    }
  }

  private location(accountId: string): string {
    return `s3://${this.bucket}/${this.key(accountId)}`;
  }

  private wrap(error: unknown, accountId: string, doing: 'reading' | 'writing'): SeenStoreError {
    return new SeenStoreError(
      `${doing} keep-mode state ${this.location(accountId)} failed: ${describeSdkError(error)}`,
      { cause: error, retryable: isTransient(error) },
    );
  }
}

/** 412 (the object changed, or appeared), 409 (a concurrent conditional write), 404 (it vanished). */
function isWriteConflict(error: unknown): boolean {
  const status = httpStatus(error);
  return (
    status === 412 ||
    status === 409 ||
    status === 404 ||
    ['PreconditionFailed', 'ConditionalRequestConflict', 'NoSuchKey'].includes(errorName(error))
  );
}

function serialise(entries: ReadonlyMap<string, Date>): string {
  // Object.fromEntries defines own properties, so even a UIDL of "__proto__" is written as a key.
  return JSON.stringify(Object.fromEntries([...entries].map(([uidl, at]) => [uidl, at.toISOString()])));
}

function parse(text: string, location: string): Map<string, Date> {
  const invalid = (why: string) =>
    new SeenStoreError(`keep-mode state ${location} is not a JSON object of UIDL → ISO time: ${why}`, {
      retryable: false,
    });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid('not valid JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalid('not an object');
  const entries = new Map<string, Date>();
  for (const [uidl, value] of Object.entries(json)) {
    const at = typeof value === 'string' ? new Date(value) : undefined;
    if (at === undefined || Number.isNaN(at.getTime())) {
      throw invalid(`the value of ${JSON.stringify(uidl)} is not a time`);
    }
    entries.set(uidl, at);
  }
  return entries;
}
