import { createHash, createHmac } from 'node:crypto';
import { Pop3Error } from './errors';

/**
 * Client sides of the login methods. Each returns base64 strings to send; none does I/O.
 *
 * SASL framing is RFC 5034 §4: `AUTH mechanism [initial-response]`, then `+ challenge` lines
 * answered by one line each, until `+OK` or `-ERR`. An empty initial response is sent as `=`.
 */

export type SaslMechanismName = 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | 'XOAUTH2' | 'OAUTHBEARER';
export type AuthMethod = 'USER' | 'APOP' | SaslMechanismName;

export const AUTH_METHODS: readonly AuthMethod[] = [
  'USER',
  'APOP',
  'PLAIN',
  'LOGIN',
  'CRAM-MD5',
  'XOAUTH2',
  'OAUTHBEARER',
];

export interface Credentials {
  readonly username: string;
  /** Password, for USER/PASS, APOP, PLAIN, LOGIN and CRAM-MD5. */
  readonly password?: string;
  /** OAuth 2.0 access token, for XOAUTH2 and OAUTHBEARER. */
  readonly accessToken?: string;
  /** Authorisation identity for PLAIN (RFC 4616), rarely needed. */
  readonly authzid?: string;
}

export interface SaslClient {
  readonly name: SaslMechanismName;
  /** Base64 initial response, or undefined when the mechanism waits for a challenge. */
  readonly initialResponse?: string;
  /** Answers one server challenge (already base64-decoded). */
  respond(challenge: Buffer): string;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export function saslClient(name: SaslMechanismName, creds: Credentials): SaslClient {
  switch (name) {
    case 'PLAIN':
      // RFC 4616 §2: [authzid] NUL authcid NUL passwd.
      refuseSeparator(name, '\0', creds.authzid, creds.username, creds.password);
      return {
        name,
        initialResponse: b64(`${creds.authzid ?? ''}\0${creds.username}\0${need(creds.password, name)}`),
        respond: () => '',
      };
    case 'LOGIN': {
      // draft-murchison-sasl-login: the server asks for the username, then the password.
      // Servers phrase the prompts differently; only their order is relied on.
      let step = 0;
      const password = need(creds.password, name);
      return {
        name,
        respond: () => b64(step++ === 0 ? creds.username : password),
      };
    }
    case 'CRAM-MD5': {
      // RFC 2195 §2: username SP hex(HMAC-MD5(password, challenge)).
      const password = need(creds.password, name);
      return {
        name,
        respond: (challenge) =>
          b64(`${creds.username} ${createHmac('md5', password).update(challenge).digest('hex')}`),
      };
    }
    case 'XOAUTH2': {
      // Google and Microsoft's XOAUTH2. A rejected token is answered with a `+` challenge holding
      // a JSON error; the client must send an empty line to get the final -ERR.
      const token = need(creds.accessToken, name);
      refuseSeparator(name, '\x01', creds.username, token);
      return {
        name,
        initialResponse: b64(`user=${creds.username}\x01auth=Bearer ${token}\x01\x01`),
        respond: () => '',
      };
    }
    case 'OAUTHBEARER': {
      // RFC 7628 §3.1: GS2 header, then key=value pairs separated by ^A. On an error challenge
      // the client answers a single ^A (§3.2.3) to let the server finish with -ERR.
      const token = need(creds.accessToken, name);
      refuseSeparator(name, '\x01', creds.username, token);
      return {
        name,
        initialResponse: b64(`n,a=${saslName(creds.username)},\x01auth=Bearer ${token}\x01\x01`),
        respond: () => b64('\x01'),
      };
    }
  }
}

/** RFC 1939 §7 APOP digest: MD5 of the greeting's timestamp followed by the shared secret. */
export function apopDigest(timestamp: string, password: string): string {
  return createHash('md5')
    .update(timestamp + password, 'utf8')
    .digest('hex');
}

/** RFC 5801 §4 saslname: `,` and `=` are escaped. */
function saslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function need(value: string | undefined, mechanism: string): string {
  if (value === undefined || value === '') {
    const what = mechanism.includes('OAUTH') ? 'an access token' : 'a password';
    throw new Pop3Error('ECONFIG', `${mechanism} login needs ${what}`, { command: 'AUTH' });
  }
  return value;
}

/**
 * A field holding the mechanism's own separator (NUL in PLAIN, ^A in XOAUTH2 and OAUTHBEARER)
 * would be split differently by the server: `user\0x` as authcid ends the identity early, and
 * `user^Aauth=...` adds a key-value pair. RFC 4616 §2 forbids NUL in PLAIN fields; ^A is not a
 * valid character of an e-mail address or of an RFC 6750 bearer token. The values stay out of
 * the message.
 */
function refuseSeparator(mechanism: string, separator: string, ...values: Array<string | undefined>): void {
  if (values.some((value) => value?.includes(separator))) {
    const what = separator === '\0' ? 'NUL' : '^A (0x01)';
    throw new Pop3Error('ECONFIG', `${mechanism} credentials must not contain ${what}`, { command: 'AUTH' });
  }
}
