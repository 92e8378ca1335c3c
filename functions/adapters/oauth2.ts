/**
 * OAuth 2.0 settings an account secret can hold instead of a password (docs/oauth2.md), and the
 * port through which credential sources turn them into access tokens.
 *
 * ```json
 * { "username": "support@contoso.com",
 *   "oauth2": { "type": "client_credentials", "tenantId": "…", "clientId": "…", "clientSecret": "…" } }
 *
 * { "username": "support@example.com",
 *   "oauth2": { "type": "refresh_token", "tokenUrl": "https://oauth2.googleapis.com/token",
 *               "clientId": "…", "clientSecret": "…", "refreshToken": "…" } }
 * ```
 *
 * - `client_credentials` (Microsoft 365 app-only access): the token URL is Microsoft's for
 *   `tenantId` unless `tokenUrl` is given; the scope defaults to Exchange Online's POP3 resource.
 * - `refresh_token` (delegated access, Microsoft or Google): `tokenUrl` is required; `scope` is
 *   sent only when given; `clientSecret` may be left out for a public client.
 *
 * Validation messages name the field and the rule, never a value.
 */

/** Microsoft identity platform token endpoint of a tenant (a directory id or a verified domain). */
export function microsoftTokenUrl(tenantId: string): string {
  return `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
}

/** Exchange Online's resource for app-only POP3 access (with the `POP.AccessAsApp` permission). */
export const OUTLOOK_APP_SCOPE = 'https://outlook.office365.com/.default';

export interface ClientCredentialsGrant {
  readonly type: 'client_credentials';
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope: string;
}

export interface RefreshTokenGrant {
  readonly type: 'refresh_token';
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly refreshToken: string;
  readonly scope?: string;
}

export type OAuth2Grant = ClientCredentialsGrant | RefreshTokenGrant;

export interface TokenRequest {
  /**
   * The access token a server just rejected. If it is the one cached, it is dropped and a new one
   * is fetched; if a newer one is cached already (another caller refreshed), that one is returned.
   */
  readonly rejected?: string;
  /**
   * Called when the token endpoint issued a new refresh token for this request's grant, so that
   * the grant's owner can store it; awaited before the access token is returned. It must report
   * its own failures: a rejection is ignored (the new access token is good either way).
   */
  readonly onRefreshTokenRotated?: (refreshToken: string) => Promise<void> | void;
}

/** Issues access tokens for grants. Implementations cache them and never log them. */
export interface TokenProvider {
  accessToken(grant: OAuth2Grant, request?: TokenRequest): Promise<string>;
}

/** A field of the `oauth2` block that is wrong, and the rule it breaks (the message's text). */
export interface OAuth2SettingsProblem {
  readonly field: string;
  readonly rule: string;
}

const TYPES = ['client_credentials', 'refresh_token'] as const;
/** A GUID, or a domain name such as `contoso.onmicrosoft.com`. */
const TENANT_ID = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** Validates the secret's `oauth2` block. */
export function parseOAuth2Settings(
  value: unknown,
): { readonly grant: OAuth2Grant } | { readonly problem: OAuth2SettingsProblem } {
  const problem = (field: string, rule: string) => ({ problem: { field: `oauth2${field}`, rule } });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return problem('', 'must be an object with "type": "client_credentials" or "refresh_token"');
  }
  const o = value as Record<string, unknown>;
  if (!TYPES.includes(o.type as (typeof TYPES)[number])) {
    return problem('.type', 'must be "client_credentials" or "refresh_token"');
  }
  const text = (key: string) =>
    typeof o[key] === 'string' && o[key] !== '' ? (o[key] as string) : undefined;
  for (const key of ['tenantId', 'tokenUrl', 'clientId', 'clientSecret', 'refreshToken', 'scope']) {
    if (o[key] !== undefined && text(key) === undefined)
      return problem(`.${key}`, 'must be a non-empty string');
  }
  const clientId = text('clientId');
  if (clientId === undefined) return problem('.clientId', 'is required');
  const tokenUrl = text('tokenUrl');
  if (tokenUrl !== undefined && !isAcceptableTokenUrl(tokenUrl)) {
    return problem('.tokenUrl', 'must be an https URL (plain http only to a loopback address)');
  }
  const scope = text('scope');
  const clientSecret = text('clientSecret');

  if (o.type === 'client_credentials') {
    const tenantId = text('tenantId');
    if (tenantId !== undefined && !TENANT_ID.test(tenantId)) {
      return problem('.tenantId', 'must be a directory (tenant) id or a domain name');
    }
    if (tenantId === undefined && tokenUrl === undefined)
      return problem('.tenantId', 'is required (or "tokenUrl")');
    if (clientSecret === undefined) return problem('.clientSecret', 'is required');
    return {
      grant: {
        type: 'client_credentials',
        tokenUrl: tokenUrl ?? microsoftTokenUrl(tenantId!),
        clientId,
        clientSecret,
        scope: scope ?? OUTLOOK_APP_SCOPE,
      },
    };
  }
  const refreshToken = text('refreshToken');
  if (refreshToken === undefined) return problem('.refreshToken', 'is required');
  if (tokenUrl === undefined) return problem('.tokenUrl', 'is required');
  return {
    grant: {
      type: 'refresh_token',
      tokenUrl,
      clientId,
      ...(clientSecret !== undefined ? { clientSecret } : {}),
      refreshToken,
      ...(scope !== undefined ? { scope } : {}),
    },
  };
}

/**
 * The client secret and refresh token travel in the request body: only over TLS, except to this
 * machine (a local token endpoint in tests, or a local proxy).
 */
export function isAcceptableTokenUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}
