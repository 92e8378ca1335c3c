import { createHash } from 'node:crypto';
import { CredentialError } from './errors';
import type { OAuth2Grant, TokenProvider, TokenRequest } from './oauth2';

/**
 * Access tokens from OAuth 2.0 token endpoints (RFC 6749 §4.4 client credentials, §6 refresh),
 * fetched with Node's own `fetch` as a form-encoded POST with the client's id and secret in the
 * body (`client_secret_post`, which Microsoft and Google both accept).
 *
 * Caching: a token is kept in memory until `expirySkewMs` (5 min) before it expires (half its
 * lifetime for tokens shorter than twice that) and shared by every caller with the same grant:
 * - client credentials: token URL (which names the tenant) + client id + scope + a hash of the
 *   client secret — one token for every mailbox of an app registration, not one per mailbox;
 * - refresh token: token URL + client id + a hash of the refresh token (one user's grant); when
 *   the endpoint rotates the refresh token, the new one maps to the same entry.
 * Concurrent callers share one request. A failed request is not cached.
 *
 * Errors are `CredentialError`s (`ECREDENTIALS`): the endpoint refusing the grant or the client
 * (400/401 `invalid_grant`, `invalid_client`, …) is `token-rejected` and not retryable; 408, 429,
 * 5xx, a timeout or no response is `unavailable` and retryable. Messages name the endpoint (without
 * query) and the OAuth error code, and carry the endpoint's `error_description` with the client
 * secret and refresh token cut out; never a token, never the request. No error has a `cause` that
 * could hold the request.
 */

export interface OAuth2TokenProviderOptions {
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch, so tests can move time. @default Date.now */
  readonly now?: () => number;
  /** A cached token is replaced this long before it expires. @default 300_000 (5 min) */
  readonly expirySkewMs?: number;
  /** Limit on one token request. @default 15_000 */
  readonly timeoutMs?: number;
  /** Lifetime assumed when the endpoint gives no `expires_in`. @default 3600 */
  readonly defaultLifetimeSeconds?: number;
}

interface Token {
  readonly accessToken: string;
  readonly expiresAt: number;
  /** When it counts as stale: `expirySkewMs` (or half the lifetime) before `expiresAt`. */
  readonly refreshAt: number;
}

interface Entry {
  readonly promise: Promise<Token>;
  value?: Token;
}

/** Descriptions longer than this are cut: they are for a log line. */
const MAX_DESCRIPTION = 300;

export class OAuth2TokenProvider implements TokenProvider {
  private readonly entries = new Map<string, Entry>();
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly skewMs: number;
  private readonly timeoutMs: number;
  private readonly defaultLifetimeSeconds: number;

  constructor(options: OAuth2TokenProviderOptions = {}) {
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? Date.now;
    this.skewMs = options.expirySkewMs ?? 300_000;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.defaultLifetimeSeconds = options.defaultLifetimeSeconds ?? 3600;
  }

  async accessToken(grant: OAuth2Grant, request: TokenRequest = {}): Promise<string> {
    const key = cacheKey(grant);
    let entry = this.entries.get(key);
    const value = entry?.value;
    if (value && (this.now() >= value.refreshAt || value.accessToken === request.rejected)) {
      this.forget(entry!);
      entry = undefined;
    }
    entry ??= this.start(key, grant, request);
    return (await entry.promise).accessToken;
  }

  /** Drops every cached token (e.g. between tests, or after rotating an app's secret). */
  clear(): void {
    this.entries.clear();
  }

  private start(key: string, grant: OAuth2Grant, request: TokenRequest): Entry {
    const entry: { promise: Promise<Token>; value?: Token } = { promise: Promise.resolve(undefined!) };
    entry.promise = this.request(grant).then(
      async ({ token, refreshToken }) => {
        entry.value = token;
        if (
          grant.type === 'refresh_token' &&
          refreshToken !== undefined &&
          refreshToken !== grant.refreshToken
        ) {
          // The grant's owner will present the new refresh token from now on: same entry.
          this.entries.set(cacheKey({ ...grant, refreshToken }), entry);
          try {
            await request.onRefreshTokenRotated?.(refreshToken);
          } catch {
            // The owner reports its own failures; the access token is good either way.
          }
        }
        return token;
      },
      (error: unknown) => {
        this.forget(entry);
        throw error;
      },
    );
    this.entries.set(key, entry);
    return entry;
  }

  private forget(entry: Entry): void {
    for (const [key, e] of this.entries) if (e === entry) this.entries.delete(key);
  }

  private async request(grant: OAuth2Grant): Promise<{ token: Token; refreshToken?: string }> {
    const endpoint = describeEndpoint(grant.tokenUrl);
    const secrets = [grant.clientSecret, grant.type === 'refresh_token' ? grant.refreshToken : undefined];
    const body = new URLSearchParams({ grant_type: grant.type, client_id: grant.clientId });
    if (grant.clientSecret !== undefined) body.set('client_secret', grant.clientSecret);
    if (grant.type === 'refresh_token') body.set('refresh_token', grant.refreshToken);
    if (grant.scope !== undefined) body.set('scope', grant.scope);

    const sent = this.now();
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(grant.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new CredentialError('unavailable', `token endpoint ${endpoint} ${networkProblem(error)}`);
    }
    const json = parseJson(text);
    if (!response.ok) throw responseError(grant, endpoint, response.status, json, secrets);

    const accessToken = json?.access_token;
    // RFC 6750 §2.1 b64token: what a bearer token may contain (and nothing that could end a line).
    if (typeof accessToken !== 'string' || !/^[A-Za-z0-9\-._~+/]+=*$/.test(accessToken)) {
      throw new CredentialError(
        'invalid',
        `token endpoint ${endpoint} answered HTTP ${response.status} without a usable access_token ` +
          '(is "tokenUrl" the OAuth 2.0 token endpoint?)',
      );
    }
    const tokenType = json?.token_type;
    if (typeof tokenType === 'string' && tokenType.toLowerCase() !== 'bearer') {
      throw new CredentialError(
        'invalid',
        `token endpoint ${endpoint} issued a token of type "${printable(tokenType).slice(0, 40)}", not Bearer`,
      );
    }
    const lifetimeMs = lifetimeSeconds(json?.expires_in, this.defaultLifetimeSeconds) * 1000;
    const expiresAt = sent + lifetimeMs;
    const refreshToken =
      typeof json?.refresh_token === 'string' && json.refresh_token !== '' ? json.refresh_token : undefined;
    return {
      token: { accessToken, expiresAt, refreshAt: expiresAt - Math.min(this.skewMs, lifetimeMs / 2) },
      ...(refreshToken !== undefined ? { refreshToken } : {}),
    };
  }
}

/** See the class comment. Hashes keep raw secrets out of map keys (heap dumps, debuggers). */
export function cacheKey(grant: OAuth2Grant): string {
  const hash = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);
  return grant.type === 'client_credentials'
    ? ['cc', grant.tokenUrl, grant.clientId, grant.scope, hash(grant.clientSecret)].join('\n')
    : ['rt', grant.tokenUrl, grant.clientId, hash(grant.refreshToken)].join('\n');
}

type TokenJson = Record<string, unknown> | undefined;

function parseJson(text: string): TokenJson {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 6749 §5.2 error codes that a later attempt can get past. */
const TRANSIENT_OAUTH_ERRORS = new Set(['temporarily_unavailable', 'server_error', 'slow_down']);

function responseError(
  grant: OAuth2Grant,
  endpoint: string,
  status: number,
  json: TokenJson,
  secrets: ReadonlyArray<string | undefined>,
): CredentialError {
  const code = typeof json?.error === 'string' ? printable(json.error).slice(0, 64) : undefined;
  const description =
    typeof json?.error_description === 'string'
      ? redact(printable(json.error_description), secrets).slice(0, MAX_DESCRIPTION)
      : undefined;
  const what = `token endpoint ${endpoint} refused the ${grant.type} grant for client ${printable(grant.clientId).slice(0, 80)}`;
  const detail = `HTTP ${status}${code ? ` ${code}` : ''}${description ? `: ${description}` : ''}`;
  if (status === 408 || status === 429 || status >= 500 || (code && TRANSIENT_OAUTH_ERRORS.has(code))) {
    return new CredentialError('unavailable', `${what} for now (${detail})`);
  }
  return new CredentialError('token-rejected', `${what} (${detail})${hint(grant, code)}`);
}

function hint(grant: OAuth2Grant, code: string | undefined): string {
  if (code === 'invalid_grant' && grant.type === 'refresh_token')
    return '; the refresh token is expired or revoked: obtain a new one (docs/oauth2.md)';
  if (code === 'invalid_client' || code === 'unauthorized_client')
    return '; check clientId and clientSecret (client secrets expire) in the secret';
  return '';
}

function networkProblem(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'did not answer in time';
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return `could not be reached${code ? ` (${code})` : ''}`;
}

function lifetimeSeconds(value: unknown, fallback: number): number {
  // Microsoft's v1 endpoint gave a string of digits; RFC 6749 §5.1 a number.
  const n = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : fallback;
}

/** `https://host/path`: the token URL without query or fragment. */
function describeEndpoint(tokenUrl: string): string {
  try {
    const url = new URL(tokenUrl);
    return `${url.origin}${url.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

/** Cuts each secret out, as given and URL-encoded (an endpoint may echo the request body). */
function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 4) continue;
    for (const form of new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
      printable(secret),
    ])) {
      out = out.split(form).join('[redacted]');
    }
  }
  return out;
}
