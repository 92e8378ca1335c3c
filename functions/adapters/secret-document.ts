import * as v from 'valibot';
import type { AccountConfig, AccountSecret } from '../poller/account';
import type { CredentialRequest, CredentialSource } from '../poller/ports';
import { PROVIDER_NAMES } from '../poller/providers';
import { CredentialError } from './errors';
import { sharedEntries } from './shared-secret';
import { parseOAuth2Settings, type OAuth2Grant, type TokenProvider } from './oauth2';
import { OAuth2TokenProvider } from './oauth2-token-provider';

/**
 * An account's secret as a JSON document — the `SecretString` of a Secrets Manager secret, or a
 * local file for the CLI — and the credential source logic both share: parse and validate once per
 * run, combine with the account configuration, turn `oauth2` settings into an access token, and
 * write a rotated refresh token back into the document.
 *
 * ```json
 * { "host": "pop.example.com", "port": 995, "tls": "implicit",
 *   "username": "support@example.com", "password": "…" }
 * ```
 *
 * - Exactly one way to log in: `password`, `accessToken` (a static OAuth 2.0 bearer token, e.g. for
 *   tests; `password` and `accessToken` together are allowed), or `oauth2` (oauth2.ts).
 * - `host`, `port`, `tls` (`implicit` | `starttls` | `none`), `username` and `provider` (`gmail` |
 *   `outlook`) are optional and take precedence over the account configuration; `username` must
 *   be in one of the two.
 * - `port` may be a number or a string of digits, since the console's key/value editor stores
 *   every value as a string.
 * - Other fields are ignored, so a secret can carry more (a note for operators).
 *
 * Errors are `CredentialError`s naming the secret id and, for bad content, the field — never a
 * value: not the secret string, not a field, not the JSON parser's message (which quotes input).
 */

/** The document's content, validated. */
export interface StoredSecret extends AccountSecret {
  readonly oauth2?: OAuth2Grant;
}

/** What the workflow gets: connection settings from the secret, and the login secret itself. */
export type ResolvedSecret = AccountSecret & { readonly username: string };

/** What each field must be; also the text of its error message, so no value can leak into one. */
const RULES = {
  host: 'must be a non-empty string',
  port: 'must be an integer 1-65535',
  tls: 'must be one of "implicit", "starttls", "none"',
  username: 'must be a non-empty string',
  password: 'must be a non-empty string',
  accessToken: 'must be a non-empty string',
  provider: `must be one of ${PROVIDER_NAMES.map((p) => `"${p}"`).join(', ')}`,
} as const;

const nonEmptyString = (message: string) => v.pipe(v.string(message), v.nonEmpty(message));

const SecretSchema = v.object(
  {
    host: v.optional(nonEmptyString(RULES.host)),
    port: v.optional(
      v.union(
        [
          v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
          v.pipe(v.string(), v.regex(/^\d{1,5}$/), v.transform(Number), v.minValue(1), v.maxValue(65535)),
        ],
        RULES.port,
      ),
    ),
    tls: v.optional(v.picklist(['implicit', 'starttls', 'none'], RULES.tls)),
    username: v.optional(nonEmptyString(RULES.username)),
    password: v.optional(nonEmptyString(RULES.password)),
    accessToken: v.optional(nonEmptyString(RULES.accessToken)),
    provider: v.optional(v.picklist(PROVIDER_NAMES, RULES.provider)),
    oauth2: v.optional(v.unknown()),
  },
  'must be a JSON object',
);

/** Validates a secret's JSON document. */
export function parseSecret(secretId: string, secretString: string): StoredSecret {
  return parseDocument(secretId, secretString).secret;
}

/** A document's JSON object; errors never quote it. */
function parseJson(secretId: string, secretString: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    // The parser's message quotes the input around the error: leave it out, and the cause too.
    throw invalid(secretId, 'SecretString is not valid JSON');
  }
  // valibot's object schema takes arrays too.
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw invalid(secretId, 'SecretString must be a JSON object');
  }
  return json as Record<string, unknown>;
}

function parseDocument(
  secretId: string,
  secretString: string,
): { secret: StoredSecret; document: Record<string, unknown> } {
  const document = parseJson(secretId, secretString);
  return { secret: validate(secretId, document), document };
}

/**
 * The login secret of one mailbox in a document: the document itself, or the entry `key` of a
 * shared secret's `mailboxes` map (shared-secret.ts).
 */
function secretIn(secretId: string, document: Record<string, unknown>, key: string): StoredSecret {
  const entries = sharedEntries(document);
  if (entries === undefined) return validate(secretId, document);
  const where = `${secretId}" entry "${key}`;
  if (!Object.hasOwn(entries, key)) {
    throw new CredentialError(
      'not-found',
      `secret "${where}" not found (the shared secret has no such entry)`,
    );
  }
  const entry = entries[key];
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw invalid(where, 'must be a JSON object');
  }
  return validate(where, entry as Record<string, unknown>);
}

function validate(secretId: string, json: Record<string, unknown>): StoredSecret {
  const result = v.safeParse(SecretSchema, json, { abortEarly: true });
  if (!result.success) {
    const key = result.issues[0]?.path?.[0]?.key;
    const message =
      typeof key === 'string' && Object.hasOwn(RULES, key)
        ? `field "${key}" ${RULES[key as keyof typeof RULES]}`
        : 'SecretString must be a JSON object';
    throw invalid(secretId, message);
  }
  const s = result.output;
  let oauth2: OAuth2Grant | undefined;
  if (s.oauth2 !== undefined) {
    const parsed = parseOAuth2Settings(s.oauth2);
    if ('problem' in parsed)
      throw invalid(secretId, `field "${parsed.problem.field}" ${parsed.problem.rule}`);
    if (s.password !== undefined || s.accessToken !== undefined) {
      throw invalid(secretId, 'field "oauth2" cannot be combined with "password" or "accessToken"');
    }
    oauth2 = parsed.grant;
  } else if (s.password === undefined && s.accessToken === undefined) {
    throw invalid(secretId, 'field "password", "accessToken" or "oauth2" is required');
  }
  return {
    ...(s.host !== undefined ? { host: s.host } : {}),
    ...(s.port !== undefined ? { port: s.port } : {}),
    ...(s.tls !== undefined ? { tls: s.tls } : {}),
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.accessToken !== undefined ? { accessToken: s.accessToken } : {}),
    ...(s.provider !== undefined ? { provider: s.provider } : {}),
    ...(oauth2 !== undefined ? { oauth2 } : {}),
  };
}

function invalid(secretId: string, message: string): CredentialError {
  return new CredentialError('invalid', `secret "${secretId}": ${message}`);
}

export interface SecretDocumentOptions {
  /** Issues access tokens for `oauth2` secrets; share one per process. @default a new OAuth2TokenProvider */
  readonly tokens?: TokenProvider;
  /**
   * Told about problems that do not fail the login, e.g. a rotated refresh token that could not be
   * written back. Messages name the secret, never a value.
   */
  readonly onWarning?: (message: string) => void;
}

/**
 * A credential source over JSON secret documents. Each document is read once per instance (create
 * one per run): concurrent and later calls for the same secret share the answer; a failed read is
 * not kept, so a later call tries again. Subclasses say where documents live.
 */
export abstract class SecretDocumentCredentials implements CredentialSource {
  /** Documents by secret id; a shared secret is parsed once for all of its mailboxes. */
  private readonly cache = new Map<string, Promise<Record<string, unknown>>>();
  private readonly tokens: TokenProvider;
  private readonly onWarning: (message: string) => void;

  constructor(options: SecretDocumentOptions = {}) {
    this.tokens = options.tokens ?? new OAuth2TokenProvider();
    this.onWarning = options.onWarning ?? (() => undefined);
  }

  /** The secret id for an account; throws a `CredentialError` (`not-found`) when there is none. */
  protected abstract secretIdFor(accountId: string): string;
  /** The account's entry in a shared secret's `mailboxes` map (shared-secret.ts). */
  protected entryKeyFor(accountId: string): string {
    return accountId;
  }
  /**
   * The document's text, or a `CredentialError`. `fresh`: not from a cache that outlives this
   * instance (the write-back compares against what is stored now).
   */
  protected abstract read(secretId: string, options?: { fresh?: boolean }): Promise<string>;
  /** Replaces the document's text. */
  protected abstract write(secretId: string, text: string): Promise<void>;

  async credentials(account: AccountConfig, request: CredentialRequest = {}): Promise<ResolvedSecret> {
    const secretId = this.secretIdFor(account.id);
    const key = this.entryKeyFor(account.id);
    const stored = secretIn(secretId, await this.document(secretId), key);
    const username = stored.username ?? account.username;
    if (username === undefined) {
      throw new CredentialError(
        'invalid',
        `secret "${secretId}": field "username" is required (account "${account.id}" configures none)`,
      );
    }
    const { oauth2, ...secret } = stored;
    if (oauth2 === undefined) return { ...secret, username };
    let accessToken: string;
    try {
      accessToken = await this.tokens.accessToken(oauth2, {
        ...(request.rejectedAccessToken !== undefined ? { rejected: request.rejectedAccessToken } : {}),
        onRefreshTokenRotated: (next) => this.saveRotatedRefreshToken(secretId, key, oauth2, next),
      });
    } catch (error) {
      const e = error as CredentialError;
      throw error instanceof CredentialError
        ? new CredentialError(e.reason, `secret "${secretId}": ${e.message}`)
        : error;
    }
    return { ...secret, username, accessToken, refreshable: true };
  }

  private document(secretId: string): Promise<Record<string, unknown>> {
    let pending = this.cache.get(secretId);
    if (pending === undefined) {
      pending = this.read(secretId).then((text) => parseJson(secretId, text));
      this.cache.set(secretId, pending);
      pending.catch(() => this.cache.delete(secretId));
    }
    return pending;
  }

  /**
   * Writes a rotated refresh token into the document: re-reads it, and only if it still holds the
   * refresh token that was used replaces that one field, leaving every other byte of meaning as it
   * was. A document changed meanwhile (by an operator, or another run) is left alone. In a shared
   * secret only the mailbox's own entry is patched, but the whole document is written back: two
   * workers rotating tokens of the same shared secret at the same moment can lose one of the two
   * writes (Secrets Manager has no conditional put), which is why docs/deploy.md keeps mailboxes
   * whose provider rotates refresh tokens in secrets of their own. Failures become warnings: the
   * old refresh token usually stays valid (Microsoft, Google), and the fresh access token is good
   * for this run either way.
   */
  private async saveRotatedRefreshToken(
    secretId: string,
    key: string,
    grant: OAuth2Grant,
    next: string,
  ): Promise<void> {
    if (grant.type !== 'refresh_token') return;
    const cached = this.cache.get(secretId);
    if (cached) {
      // This run goes on with the new refresh token, whatever happens to the write.
      this.cache.set(
        secretId,
        cached.then((document) => withRefreshToken(document, key, next) ?? document),
      );
    }
    const saved = `secret "${secretId}": the token endpoint issued a new refresh token`;
    let document: Record<string, unknown>;
    try {
      document = parseJson(secretId, await this.read(secretId, { fresh: true }));
      secretIn(secretId, document, key);
    } catch (error) {
      this.onWarning(`${saved}, but the secret could not be read again to store it: ${messageOf(error)}`);
      return;
    }
    const entry = (sharedEntries(document)?.[key] ?? document) as Record<string, unknown>;
    const current = entry.oauth2 as Record<string, unknown> | undefined;
    if (current?.refreshToken !== grant.refreshToken) {
      this.onWarning(`${saved}, but the secret has changed since it was read; it is left as it is`);
      return;
    }
    try {
      await this.write(secretId, JSON.stringify(withRefreshToken(document, key, next)));
    } catch (error) {
      this.onWarning(
        `${saved} that could not be stored (${messageOf(error)}); the previous one is used until it expires`,
      );
    }
  }
}

/** The document with the mailbox's `oauth2.refreshToken` replaced; undefined when it has no oauth2 block. */
function withRefreshToken(
  document: Record<string, unknown>,
  key: string,
  refreshToken: string,
): Record<string, unknown> | undefined {
  const entries = sharedEntries(document);
  const entry = (entries ? entries[key] : document) as Record<string, unknown> | undefined;
  const oauth2 = entry?.oauth2 as Record<string, unknown> | undefined;
  if (!entry || !oauth2) return undefined;
  const patched = { ...entry, oauth2: { ...oauth2, refreshToken } };
  return entries ? { ...document, mailboxes: { ...entries, [key]: patched } } : patched;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
