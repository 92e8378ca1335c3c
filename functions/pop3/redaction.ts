import type { Capabilities } from './capabilities';
import { errorCodeForResponseCode, Pop3Error, type Pop3ErrorCode } from './errors';
import type { Pop3ClientOptions, TraceEvent } from './options';
import { printable, type StatusLine } from './reply-decoder';
import type { Credentials } from './sasl';

/**
 * What is secret in a session and how it is kept out of traces and errors. A server may echo a
 * credential back (in a challenge, in an -ERR text), so every line that leaves the client as a
 * trace event or inside a Pop3Error goes through `redact` first.
 */

/** Verbs whose arguments are credentials. USER's argument is the username and is traced. */
const CREDENTIAL_VERBS = new Set(['PASS', 'APOP', 'AUTH', 'USER']);

export class Redactor {
  private readonly secrets: string[];

  constructor(private readonly options: Pick<Pop3ClientOptions, 'auth' | 'onTrace'>) {
    this.secrets = secretVariants(options.auth);
  }

  /** Adds another form of a secret, e.g. a SASL initial response built from the password. */
  remember(secret: string): void {
    this.secrets.push(secret);
  }

  /** Replaces every known secret in `text` with `[redacted]`. */
  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }

  /** Hands a protocol line to the trace callback, if any, with secrets replaced. */
  trace(direction: TraceEvent['direction'], line: string): void {
    if (this.options.onTrace) this.options.onTrace({ direction, line: this.redact(line) });
  }
}

/** The forms in which a secret could appear on the wire or in a reply. */
function secretVariants(auth: Credentials): string[] {
  const out: string[] = [];
  for (const secret of [auth.password, auth.accessToken]) {
    if (!secret) continue;
    out.push(secret, Buffer.from(secret, 'utf8').toString('base64'));
  }
  return out.filter((s) => s.length >= 3);
}

/** A command line as traced: the verb (and SASL mechanism) of a credential command, not its arguments. */
export function traceCommand(verb: string, line: Buffer): string {
  if (!CREDENTIAL_VERBS.has(verb) || verb === 'USER') return line.toString('utf8').trimEnd();
  if (verb === 'AUTH')
    return line.toString('utf8').trimEnd().split(' ').slice(0, 2).join(' ') + ' [redacted]';
  return `${verb} [redacted]`;
}

/** Turns a `-ERR` into the error its response code calls for, with secrets scrubbed. */
export function replyError(
  verb: string,
  status: StatusLine,
  credentialCommand: boolean,
  redactor: Redactor,
  capabilities: Capabilities,
): Pop3Error {
  const text = redactor.redact(status.text);
  let code: Pop3ErrorCode =
    errorCodeForResponseCode(status.code) ?? (credentialCommand ? 'EAUTH' : 'ECOMMAND');
  if (verb === 'greeting' && code === 'ECOMMAND') code = 'ECONNECTION';
  const shown = status.code ? `[${status.code}] ${text}` : text;
  const retryAfter = code === 'ELOGIN_DELAY' ? capabilities.loginDelaySeconds : undefined;
  return new Pop3Error(code, `${verb} failed: -ERR ${printable(shown)}`, {
    command: verb,
    response: `-ERR ${shown}`,
    ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
  });
}

/** A reply that arrived while no command was outstanding, as the error that ends the session. */
export function unsolicitedReplyError(line: StatusLine, redactor: Redactor): Pop3Error {
  if (line.kind === 'err') {
    // A server may say why it is about to close without being asked: Dovecot sends
    // `-ERR [SYS/TEMP] Internal error occurred...` right after `+OK Logged in.` when the
    // mailbox cannot be opened, and `-ERR Disconnected for inactivity.` on autologout. Report
    // it as what its response code says (a protocol violation would hide a [SYS/TEMP] or
    // [AUTH]); without a code it is the server dropping the connection.
    redactor.trace('server', `-ERR ${line.text}`);
    const shown = redactor.redact(line.code ? `[${line.code}] ${line.text}` : line.text);
    return new Pop3Error(
      errorCodeForResponseCode(line.code) ?? 'ECONNECTION',
      `server sent -ERR with no command outstanding: ${printable(shown)}`,
      { response: `-ERR ${shown}` },
    );
  }
  return new Pop3Error('EPROTOCOL', `unexpected reply with no command outstanding: ${printable(line.text)}`);
}
