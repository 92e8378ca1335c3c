/** The multi-line parts of a POP3 conversation, as a server writes them. */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** `+OK` and a multi-line body, dot-stuffed (RFC 1939 §3) and terminated. */
export function multiLine(body: string | Buffer, status = '+OK'): Buffer {
  return Buffer.concat([Buffer.from(`${status}\r\n`), dotStuff(Buffer.from(body)), Buffer.from('.\r\n')]);
}

/** Doubles a dot at the start of every line; adds a final CRLF if the body lacks one. */
export function dotStuff(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  if (body[0] === DOT) parts.push(Buffer.of(DOT));
  for (let lf = body.indexOf(LF); lf !== -1; lf = body.indexOf(LF, lf + 1)) {
    if (body[lf + 1] !== DOT) continue;
    parts.push(body.subarray(start, lf + 1), Buffer.of(DOT));
    start = lf + 1;
  }
  parts.push(body.subarray(start));
  if (body.length > 0 && body[body.length - 1] !== LF) parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** A CAPA reply listing these capability lines (RFC 2449 §5). */
export function capaReply(...capabilities: string[]): Buffer {
  return multiLine(capabilities.map((c) => `${c}\r\n`).join(''), '+OK Capability list follows');
}

/** Every bare LF made CRLF, as Dovecot serves a message stored with Unix line endings. */
export function toCrlf(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let lf = bytes.indexOf(LF); lf !== -1; lf = bytes.indexOf(LF, lf + 1)) {
    if (lf > 0 && bytes[lf - 1] === CR) continue;
    parts.push(bytes.subarray(start, lf), Buffer.from('\r'));
    start = lf;
  }
  parts.push(bytes.subarray(start));
  return parts.length === 1 ? bytes : Buffer.concat(parts);
}

/**
 * What TOP (RFC 1939 §7) sends of a message: the header block, the blank line after it, and the
 * first `lines` lines of the body.
 */
export function topOf(bytes: Buffer, lines: number): Buffer {
  const blank = bytes.indexOf('\r\n\r\n');
  if (blank === -1) return bytes;
  let end = blank + 4;
  for (let n = 0; n < lines && end < bytes.length; n++) {
    const lf = bytes.indexOf(0x0a, end);
    end = lf === -1 ? bytes.length : lf + 1;
  }
  return bytes.subarray(0, end);
}
