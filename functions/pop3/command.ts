import { Pop3Error } from './errors';

/** RFC 2449 §4: a command line, keyword and arguments, is at most 255 octets before CRLF. */
export const MAX_COMMAND_OCTETS = 255;

/**
 * Encodes one command line. Arguments containing CR, LF or NUL are refused: they would let a
 * value (a username, a UIDL from a hostile server) smuggle a second command onto the wire.
 * The error names the verb only, never the argument, which may be a secret.
 */
export function encodeCommand(verb: string, ...args: ReadonlyArray<string | number>): Buffer {
  // Joined first and checked once (the separators are spaces, so the verdict is the same as for
  // each part): this runs for every RETR and DELE, and a small function is cheap to optimise.
  let text = verb;
  for (const arg of args) text += ` ${arg}`;
  if (/[\r\n\0]/.test(text)) {
    throw new Pop3Error('ECONFIG', `${verb}: argument contains CR, LF or NUL`, { command: verb });
  }
  const line = Buffer.from(`${text}\r\n`, 'utf8');
  if (line.length - 2 > MAX_COMMAND_OCTETS) {
    throw new Pop3Error('ECONFIG', `${verb}: command exceeds ${MAX_COMMAND_OCTETS} octets`, {
      command: verb,
    });
  }
  return line;
}

/** Encodes a SASL client response line (RFC 5034 §4), which has no 255-octet limit. */
export function encodeResponseLine(base64: string): Buffer {
  // Padded base64, or `*` alone (the cancel line). A character class alone would let `*` and `=`
  // appear anywhere (`QU*J`, `QQ==QUJD`), which no server can decode.
  if (!/^(?:\*|(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)$/.test(base64)) {
    throw new Pop3Error('ECONFIG', 'SASL response is not base64', { command: 'AUTH' });
  }
  return Buffer.from(`${base64}\r\n`, 'ascii');
}

/** A message number argument: a positive integer. */
export function checkNumber(value: number, verb: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Pop3Error('ECONFIG', `${verb}: message number must be a positive integer`, { command: verb });
  }
  return value;
}

/** A line count argument (TOP): a non-negative integer. */
export function checkCount(value: number, verb: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Pop3Error('ECONFIG', `${verb}: line count must be a non-negative integer`);
  }
  return value;
}
