import fc from 'fast-check';
import { encodeCommand, encodeResponseLine, MAX_COMMAND_OCTETS } from '../../../functions/pop3/command';
import { expectConfigError } from '../../support/thrown';

describe('Function: encodeCommand', () => {
  it('encodes a verb alone', () => {
    expect(encodeCommand('STAT').toString('latin1')).toBe('STAT\r\n');
  });

  it('encodes string arguments separated by single spaces', () => {
    expect(encodeCommand('USER', 'tim@example.org').toString('latin1')).toBe('USER tim@example.org\r\n');
    expect(encodeCommand('APOP', 'mrose', 'c4c9334bac560ecc979e58001b3e22fb').toString('latin1')).toBe(
      'APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n',
    );
  });

  it('encodes numbers in decimal', () => {
    expect(encodeCommand('RETR', 1).toString('latin1')).toBe('RETR 1\r\n');
    expect(encodeCommand('TOP', 42, 0).toString('latin1')).toBe('TOP 42 0\r\n');
    expect(encodeCommand('DELE', 123456).toString('latin1')).toBe('DELE 123456\r\n');
  });

  it('encodes non-ASCII arguments as UTF-8 (RFC 6856)', () => {
    expect(encodeCommand('USER', 'jörg')).toEqual(Buffer.from('USER j\xc3\xb6rg\r\n', 'latin1'));
  });

  it.each([
    ['CR', 'evil\rQUIT'],
    ['LF', 'evil\nDELE 1'],
    ['CRLF', 'evil\r\nDELE 1'],
    ['NUL', 'evil\0'],
  ])('refuses %s in an argument with ECONFIG, naming the verb but not the argument', (_what, arg) => {
    const error = expectConfigError(() => encodeCommand('PASS', 'fine', arg));
    expect(error.command).toBe('PASS');
    expect(error.message).toContain('PASS');
    expect(error.message).not.toContain('evil');
    expect(error.response).toBeUndefined();
  });

  it('refuses CR, LF or NUL anywhere in any argument (property)', () => {
    // A recognisable secret, so that "the message does not contain it" is a meaningful check.
    const secret = fc
      .string({ maxLength: 20 })
      .filter((s) => !/[\r\n\0]/.test(s))
      .map((s) => `s3cr3t-${s}`);
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ maxLength: 10 }).filter((s) => !/[\r\n\0]/.test(s)),
          { maxLength: 3 },
        ),
        secret,
        fc.constantFrom('\r', '\n', '\0'),
        fc.nat(),
        fc.nat(),
        (others, value, bad, at, position) => {
          const i = at % (value.length + 1);
          const poisoned = value.slice(0, i) + bad + value.slice(i);
          const args = [...others];
          args.splice(position % (args.length + 1), 0, poisoned);
          const error = expectConfigError(() => encodeCommand('USER', ...args));
          expect(error.message).not.toContain(poisoned);
          expect(error.message).not.toContain(value);
        },
      ),
    );
  });

  it(`accepts a command of exactly ${MAX_COMMAND_OCTETS} octets before CRLF`, () => {
    const arg = 'a'.repeat(MAX_COMMAND_OCTETS - 'USER '.length);
    const line = encodeCommand('USER', arg);
    expect(line.length).toBe(MAX_COMMAND_OCTETS + 2);
    expect(line.toString('latin1')).toBe(`USER ${arg}\r\n`);
  });

  it(`refuses a command over ${MAX_COMMAND_OCTETS} octets (RFC 2449 §4) without echoing it`, () => {
    const arg = 'a'.repeat(MAX_COMMAND_OCTETS - 'USER '.length + 1);
    const error = expectConfigError(() => encodeCommand('USER', arg));
    expect(error.command).toBe('USER');
    expect(error.message).toBe(`USER: command exceeds ${MAX_COMMAND_OCTETS} octets`);
  });

  it('counts octets, not characters, against the limit', () => {
    // 125 two-octet characters: 5 + 250 = 255 octets, fine; one more is 257.
    expect(encodeCommand('USER', 'é'.repeat(125)).length).toBe(MAX_COMMAND_OCTETS + 2);
    expectConfigError(() => encodeCommand('USER', 'é'.repeat(126)));
  });
});

describe('Function: encodeResponseLine', () => {
  it.each([
    ['a base64 response', 'AHRpbQB0YW5zdGFhZg=='],
    ['no padding', 'dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw'],
    ['single padding', 'dGltIHBhc3M='],
    ['an empty response', ''],
    ['the cancel line `*` (RFC 5034 §4)', '*'],
    ['base64 with + and /', 'ab+/cd+/'],
  ])('encodes %s followed by CRLF', (_what, base64) => {
    expect(encodeResponseLine(base64).toString('latin1')).toBe(`${base64}\r\n`);
  });

  it.each([
    ['CRLF injection', 'AQ==\r\nDELE 1'],
    ['a space', 'AQ== QUIT'],
    ['base64url characters', 'ab-_cd=='],
    ['non-ASCII', 'AQé='],
    ['NUL', 'AQ==\0'],
    ['`*` inside base64', 'QU*J'],
    ['`=` before the end', 'QQ==QUJD'],
    ['three padding characters', 'QQ==='],
    ['a truncated quantum', 'QUJDR'],
  ])('refuses %s with ECONFIG', (_what, line) => {
    const error = expectConfigError(() => encodeResponseLine(line));
    expect(error.command).toBe('AUTH');
    expect(error.message).toBe('SASL response is not base64');
  });

  it('accepts whatever Buffer#toString("base64") produces (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (raw) => {
        const base64 = Buffer.from(raw).toString('base64');
        expect(encodeResponseLine(base64).toString('latin1')).toBe(`${base64}\r\n`);
      }),
    );
  });
});
