/**
 * RFC 1939 §7: a server that supports APOP puts a timestamp in its greeting, "syntactically a
 * msg-id" (RFC 822 §6: `<local@domain>`), and the client digests it with the secret. Only a
 * msg-id-shaped token is taken: printable ASCII between angle brackets, without spaces or further
 * brackets, and short. A garbage banner (`<>`, NUL or 8-bit octets, an unclosed `<`) yields no
 * timestamp, so `auto` does not pick APOP against a server that never offered it (found by the fuzz
 * suite, test/fuzz: `<>` used to be taken as a timestamp).
 */
const TIMESTAMP = /<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>/;

/** The APOP timestamp in a greeting's text, with its angle brackets, or undefined. */
export function apopTimestamp(greetingText: string): string | undefined {
  return TIMESTAMP.exec(greetingText)?.[0];
}
