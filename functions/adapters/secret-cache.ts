/**
 * Secret texts kept across invocations of a warm Lambda environment, for a short time. At fleet
 * size most mailboxes share a few secrets (shared-secret.ts): without this, every job would read
 * each of its secrets again, and a password changed by an operator would still be picked up within
 * `ttlMs`. A login refused with EAUTH after a cached read is retried once with a fresh read
 * (functions/handlers/poll-batch.ts), so a rotated password never waits for the TTL.
 *
 * Only the text is kept, in memory, never logged; nothing is written anywhere.
 */
export class SecretTextCache {
  private readonly entries = new Map<string, { readonly text: string; readonly readAt: number }>();

  constructor(
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(secretId: string): string | undefined {
    const entry = this.entries.get(secretId);
    if (entry === undefined) return undefined;
    if (this.now() - entry.readAt >= this.ttlMs) {
      this.entries.delete(secretId);
      return undefined;
    }
    return entry.text;
  }

  set(secretId: string, text: string): void {
    if (this.ttlMs > 0) this.entries.set(secretId, { text, readAt: this.now() });
  }

  /** When the cached text was read; undefined when none is cached. */
  readAt(secretId: string): number | undefined {
    return this.entries.get(secretId)?.readAt;
  }

  forget(secretId: string): void {
    this.entries.delete(secretId);
  }
}
