import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The test suite's own OAuth 2.0 authorisation server on 127.0.0.1: a token endpoint (client
 * credentials and refresh grants, RFC 6749 §4.4 and §6) and a token-introspection endpoint for
 * Dovecot's `oauth2` passdb (`introspection_mode = auth`: `GET` with `Authorization: Bearer`).
 *
 * It models the providers closely enough to test against:
 * - app-only tokens (client credentials) name no mailbox, like Microsoft's: they open the mailboxes
 *   the app was granted (`grantMailbox`, Exchange's FullAccess). Introspection only sees the token,
 *   so the test says which mailbox a login is for (`loginFor`) before it connects;
 * - delegated tokens (refresh grant) belong to the user the refresh token was issued for;
 * - refresh tokens may be rotated on use (`rotateRefreshTokens`, Microsoft), the old one staying
 *   valid; access tokens and users can be revoked; any response can be scripted.
 *
 * Access tokens are long (1,200 characters, like Microsoft's JWTs), so the XOAUTH2 initial response
 * goes after the `+` as it must at Microsoft.
 */

interface AccessToken {
  readonly clientId: string;
  /** The user of a delegated token; undefined for an app-only token. */
  readonly user: string | undefined;
  active: boolean;
}

interface RefreshToken {
  readonly clientId: string;
  readonly user: string;
  active: boolean;
}

export interface ScriptedResponse {
  readonly status: number;
  readonly body: unknown;
  /** Send the body as it is (a string), not as JSON. */
  readonly raw?: boolean;
}

export class OAuthTestServer {
  /** The form of every token request, in order. */
  readonly tokenRequests: Array<Record<string, string>> = [];
  /** Every access token introspected (one per XOAUTH2/OAUTHBEARER login Dovecot checks). */
  readonly introspected: string[] = [];
  /** Issue a new refresh token with every refresh (the old one stays valid, as at Microsoft). */
  rotateRefreshTokens = false;
  /** `expires_in` of the access tokens issued. */
  expiresIn = 3600;

  private readonly clients = new Map<string, string | undefined>();
  private readonly appGrants = new Map<string, Set<string>>();
  private readonly accessTokens = new Map<string, AccessToken>();
  private readonly refreshTokens = new Map<string, RefreshToken>();
  private readonly revokedUsers = new Set<string>();
  private readonly scripted: ScriptedResponse[] = [];
  private mailbox: string | undefined;
  private issued = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<OAuthTestServer> {
    const holder: { instance?: OAuthTestServer } = {};
    const server = createServer((req, res) => void holder.instance!.handle(req, res));
    holder.instance = new OAuthTestServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return holder.instance;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get tokenUrl(): string {
    return `${this.url}/token`;
  }

  get introspectionUrl(): string {
    return `${this.url}/introspect`;
  }

  /** Registers an app (client); a public client has no secret. */
  registerClient(clientId: string, clientSecret: string | undefined): void {
    this.clients.set(clientId, clientSecret);
  }

  /** Lets the app's app-only tokens open `mailbox` (Exchange: `Add-MailboxPermission … FullAccess`). */
  grantMailbox(clientId: string, mailbox: string): void {
    const grants = this.appGrants.get(clientId) ?? new Set<string>();
    grants.add(mailbox);
    this.appGrants.set(clientId, grants);
  }

  revokeMailbox(clientId: string, mailbox: string): void {
    this.appGrants.get(clientId)?.delete(mailbox);
  }

  /** Which mailbox the next logins are for (app-only tokens name none). */
  loginFor(mailbox: string): void {
    this.mailbox = mailbox;
  }

  /** A refresh token of `user`'s consent to the app (as after the authorisation-code flow). */
  issueRefreshToken(clientId: string, user: string): string {
    const token = `rt-${user}-${randomBytes(24).toString('base64url')}`;
    this.refreshTokens.set(token, { clientId, user, active: true });
    return token;
  }

  revokeRefreshToken(token: string): void {
    const entry = this.refreshTokens.get(token);
    if (entry) entry.active = false;
  }

  /** Every access token issued so far stops working (as if expired or revoked early). */
  expireAccessTokens(): void {
    for (const entry of this.accessTokens.values()) entry.active = false;
  }

  /** No token opens this user's mailbox any more (consent withdrawn, account disabled). */
  revokeUser(user: string): void {
    this.revokedUsers.add(user);
  }

  /** The next token requests get these responses instead, in order. */
  respondNext(...responses: ScriptedResponse[]): void {
    this.scripted.push(...responses);
  }

  /** Access tokens issued, in order. */
  get issuedAccessTokens(): string[] {
    return [...this.accessTokens.keys()];
  }

  /** A token valid for `user` without a token request (the secret's static `accessToken`). */
  mintAccessToken(clientId: string, user: string): string {
    return this.newAccessToken({ clientId, user, active: true });
  }

  reset(): void {
    this.tokenRequests.length = 0;
    this.introspected.length = 0;
    this.rotateRefreshTokens = false;
    this.expiresIn = 3600;
    this.scripted.length = 0;
    this.revokedUsers.clear();
    this.appGrants.clear();
    this.mailbox = undefined;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', this.url).pathname;
    if (req.method === 'POST' && path === '/token') return this.token(body, req, res);
    if (req.method === 'GET' && path === '/introspect') return this.introspect(req, res);
    send(res, 404, { error: 'not_found' });
  }

  private token(body: string, req: IncomingMessage, res: ServerResponse): void {
    const form = Object.fromEntries(new URLSearchParams(body));
    this.tokenRequests.push(form);
    const scripted = this.scripted.shift();
    if (scripted) return send(res, scripted.status, scripted.body, scripted.raw);
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return send(res, 400, { error: 'invalid_request', error_description: 'form body expected' });
    }
    const clientId = form.client_id ?? '';
    if (!this.clients.has(clientId) || this.clients.get(clientId) !== form.client_secret) {
      return send(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' });
    }
    if (form.grant_type === 'client_credentials') {
      const accessToken = this.newAccessToken({ clientId, user: undefined, active: true });
      return send(res, 200, { token_type: 'Bearer', expires_in: this.expiresIn, access_token: accessToken });
    }
    if (form.grant_type === 'refresh_token') {
      const grant = this.refreshTokens.get(form.refresh_token ?? '');
      if (!grant || !grant.active || grant.clientId !== clientId) {
        return send(res, 400, {
          error: 'invalid_grant',
          error_description: 'Token has been expired or revoked.',
        });
      }
      const accessToken = this.newAccessToken({ clientId, user: grant.user, active: true });
      const refreshToken = this.rotateRefreshTokens
        ? this.issueRefreshToken(clientId, grant.user)
        : undefined;
      return send(res, 200, {
        token_type: 'Bearer',
        expires_in: this.expiresIn,
        access_token: accessToken,
        ...(refreshToken !== undefined ? { refresh_token: refreshToken } : {}),
      });
    }
    send(res, 400, { error: 'unsupported_grant_type' });
  }

  private introspect(req: IncomingMessage, res: ServerResponse): void {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    this.introspected.push(token);
    const entry = this.accessTokens.get(token);
    const user =
      entry?.user ??
      (entry && this.appGrants.get(entry.clientId)?.has(this.mailbox ?? '') ? this.mailbox : undefined);
    if (!entry?.active || user === undefined || this.revokedUsers.has(user)) {
      return send(res, 200, { active: false });
    }
    send(res, 200, { active: true, username: user });
  }

  private newAccessToken(entry: AccessToken): string {
    const token = `at${++this.issued}.${randomBytes(900).toString('base64url')}`;
    this.accessTokens.set(token, entry);
    return token;
  }
}

function send(res: ServerResponse, status: number, body: unknown, raw = false): void {
  const text = raw ? String(body) : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': raw ? 'text/html' : 'application/json',
    'cache-control': 'no-store',
  });
  res.end(text);
}
