import type { Capabilities } from './capabilities';
import { Pop3Error } from './errors';
import type { AuthMethod, Credentials } from './sasl';

/** What the choice of a login method depends on, once the greeting and CAPA are in. */
export interface LoginContext {
  readonly auth: Credentials & { readonly method?: AuthMethod | 'auto' };
  readonly capabilities: Capabilities;
  /** The greeting's `<...>` timestamp, which APOP needs (RFC 1939 §7). */
  readonly apopTimestamp: string | undefined;
  readonly encrypted: boolean;
  readonly allowPlaintextAuth: boolean;
}

/**
 * The login method: the one configured, else the strongest the server offers for the credentials
 * (a token: XOAUTH2, then OAUTHBEARER; a password: over cleartext a digest first, then PLAIN, USER,
 * LOGIN, CRAM-MD5, APOP). A server without CAPA (plain RFC 1939) gets USER.
 */
export function chooseAuthMethod(login: LoginContext): AuthMethod {
  const { auth, capabilities, apopTimestamp } = login;
  const requested = auth.method ?? 'auto';
  const sasl = capabilities.saslMechanisms;
  if (requested !== 'auto') {
    if (requested === 'APOP' && !apopTimestamp) {
      throw new Pop3Error('EAUTH', 'APOP requested but the greeting carries no timestamp', {
        command: 'APOP',
      });
    }
    return requested;
  }
  if (auth.accessToken) {
    if (sasl.includes('XOAUTH2')) return 'XOAUTH2';
    if (sasl.includes('OAUTHBEARER')) return 'OAUTHBEARER';
    throw new Pop3Error('EAUTH', 'server offers neither XOAUTH2 nor OAUTHBEARER for token login', {
      command: 'AUTH',
    });
  }
  if (!auth.password) throw new Pop3Error('ECONFIG', 'no password or access token configured');
  if (!login.encrypted) {
    // Over cleartext prefer methods that do not reveal the password.
    if (sasl.includes('CRAM-MD5')) return 'CRAM-MD5';
    if (apopTimestamp) return 'APOP';
  }
  if (sasl.includes('PLAIN')) return 'PLAIN';
  if (capabilities.has('USER') || capabilities.tags.length === 0) return 'USER';
  if (sasl.includes('LOGIN')) return 'LOGIN';
  if (sasl.includes('CRAM-MD5')) return 'CRAM-MD5';
  if (apopTimestamp) return 'APOP';
  return 'USER';
}

/** A password or token never crosses an unencrypted connection unless explicitly allowed. */
export function guardCleartext(method: AuthMethod, login: LoginContext): void {
  if (login.encrypted || login.allowPlaintextAuth) return;
  if (method === 'APOP' || method === 'CRAM-MD5') return; // only a digest is sent
  throw new Pop3Error(
    'ECONFIG',
    `refusing to send credentials with ${method} over an unencrypted connection; ` +
      'use tls "implicit" or "starttls", or set allowPlaintextAuth',
    { command: method === 'USER' ? 'PASS' : 'AUTH' },
  );
}
