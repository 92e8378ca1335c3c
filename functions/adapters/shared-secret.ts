/**
 * A shared secret: one Secrets Manager secret holding the login secrets of many mailboxes, so that
 * a fleet does not pay $0.40 a month per mailbox for a secret of its own.
 *
 * ```json
 * { "mailboxes": {
 *     "support": { "password": "…" },
 *     "sales":   { "password": "…", "username": "sales@example.com" } } }
 * ```
 *
 * Each entry is a secret document of its own (secret-document.ts: `password`, `accessToken` or
 * `oauth2`, and optionally `host`, `port`, `tls`, `username`), chosen by the mailbox's `secretKey`
 * or, by default, its id. A document without a top-level `mailboxes` object is a per-mailbox
 * secret, as before.
 *
 * Secrets Manager stores at most 65,536 bytes per secret value; the CLI fills a shared secret up
 * to SHARED_SECRET_MAX_BYTES and starts the next one beyond (about 1,000 password entries each).
 * Shared secrets the CLI creates are named `<secretNamePrefix>shared-NNNN` and tagged
 * SHARED_SECRET_TAG, so it can find them again.
 */

/** What the CLI keeps a shared secret's JSON under, leaving room for an entry rewritten in place. */
export const SHARED_SECRET_MAX_BYTES = 60_000;

/** Tag the CLI puts on the shared secrets it creates (value `true`). */
export const SHARED_SECRET_TAG = 'pop3-poller:shared';

/**
 * Tag (value `true`) on a secret the worker may write to: only secrets whose OAuth 2.0 refresh
 * token rotates (Microsoft) need `PutSecretValue`, and the stack grants it on tagged secrets only.
 */
export const WRITEBACK_TAG = 'pop3-poller:writeback';

/** The name of the n-th shared secret (n from 1). */
export function sharedSecretName(prefix: string, n: number): string {
  return `${prefix}shared-${String(n).padStart(4, '0')}`;
}

/** The `mailboxes` map of a shared secret's document, or undefined for a per-mailbox document. */
export function sharedEntries(document: Record<string, unknown>): Record<string, unknown> | undefined {
  const map = document.mailboxes;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return undefined;
  return map as Record<string, unknown>;
}
