import { chooseAuthMethod, guardCleartext } from './auth-choice';
import { encodeCommand, encodeResponseLine, MAX_COMMAND_OCTETS } from './command';
import { Pop3Error } from './errors';
import { apopDigest, saslClient, type SaslMechanismName } from './sasl';
import { simple } from './requests';
import type { Session } from './session';

/**
 * The authorization state (RFC 1939 §4): USER/PASS, APOP (RFC 1939 §7) or a SASL exchange
 * (RFC 5034), chosen by `chooseAuthMethod`. The mechanisms themselves (what each response holds)
 * are in sasl.ts; this file holds the dialogue.
 */

/** Logs in with the configured credentials, then re-reads capabilities (RFC 2449 §5). */
export async function logIn(session: Session): Promise<void> {
  if (session.state !== 'authorization') {
    throw new Pop3Error('ECLOSED', `cannot log in while ${session.state}`, { command: 'LOGIN' });
  }
  const { options } = session;
  if (session.capabilities.has('UTF8') && options.utf8 !== false) {
    // RFC 6856 §2: UTF8 is issued before authentication; a refusal only means no UTF-8 mode.
    await simple(session, 'UTF8', []).catch((error: unknown) => {
      // A -ERR leaves the session usable; anything that closed it is fatal.
      if (session.state === 'closed') throw error;
    });
  }
  const login = {
    auth: options.auth,
    capabilities: session.capabilities,
    apopTimestamp: session.apopTimestamp,
    encrypted: session.encrypted,
    allowPlaintextAuth: options.allowPlaintextAuth === true,
  };
  const method = chooseAuthMethod(login);
  guardCleartext(method, login);
  const { auth } = options;
  switch (method) {
    case 'USER':
      await simple(session, 'USER', [auth.username], true);
      await simple(session, 'PASS', [auth.password!], true);
      break;
    case 'APOP':
      await simple(
        session,
        'APOP',
        [auth.username, apopDigest(session.apopTimestamp!, auth.password!)],
        true,
      );
      break;
    default:
      await authenticate(session, method);
  }
  await session.enterTransaction(method);
}

/** RFC 5034 SASL exchange. */
function authenticate(session: Session, name: SaslMechanismName): Promise<void> {
  const mech = saslClient(name, session.options.auth);
  let initial = mech.initialResponse;
  // The initial response carries the secret in another encoding (PLAIN: base64 of
  // `authzid NUL user NUL password`; XOAUTH2/OAUTHBEARER: the token behind a prefix), which the
  // plain and base64 forms the redactor starts with do not match. A server echoing the line back
  // in a challenge or an -ERR must not get it into an error or the trace.
  if (initial) session.redactor.remember(initial);
  let line: Buffer;
  if (initial !== undefined && `AUTH ${name} ${initial || '='}`.length <= MAX_COMMAND_OCTETS) {
    line = encodeCommand('AUTH', name, initial || '=');
    initial = undefined;
  } else {
    // RFC 5034 §4: an initial response that would overflow the 255-octet command goes after `+`.
    line = encodeCommand('AUTH', name);
  }
  const expectedResponses = name === 'LOGIN' ? 2 : 1;
  let responsesSent = line.length > `AUTH ${name}\r\n`.length ? 1 : 0;
  return new Promise<void>((resolve, reject) => {
    const send = (base64: string) => {
      responsesSent += 1;
      session.redactor.trace('client', '[redacted SASL response]');
      session.write(encodeResponseLine(base64));
    };
    session.enqueue({
      verb: 'AUTH',
      line,
      exclusive: true,
      status: (status) => {
        // Some servers send `+OK` where a `+` challenge is due (field notes, lesson 9). Before the
        // client has sent what the mechanism needs, a `+OK` cannot mean success: treat it as a
        // challenge. After that, `+` challenges are error reports (XOAUTH2/OAUTHBEARER) or
        // further steps, and are answered as the mechanism says: an empty line for XOAUTH2, ^A
        // for OAUTHBEARER (RFC 7628 §3.2.3), after which the server finishes with -ERR.
        const challengeDue = responsesSent < expectedResponses;
        if (status.kind === 'continuation' || (status.kind === 'ok' && challengeDue)) {
          if (initial !== undefined) {
            send(initial);
            initial = undefined;
          } else {
            send(mech.respond(decodeChallenge(status.text)));
          }
          return 'continue';
        }
        if (status.kind === 'ok') resolve();
        else reject(session.replyError('AUTH', status, true));
        return 'done';
      },
      fail: reject,
    });
  });
}

/** A `+` challenge's text: base64 (RFC 5034 §4), or taken as it is from a server that sends text. */
function decodeChallenge(text: string): Buffer {
  const trimmed = text.trim();
  return /^[A-Za-z0-9+/]*={0,2}$/.test(trimmed)
    ? Buffer.from(trimmed, 'base64')
    : Buffer.from(trimmed, 'utf8');
}
