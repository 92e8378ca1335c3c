import { Pop3Error } from '../../../functions/pop3/errors';
import { parseList, parseStat, parseUidl, parseUidlLine } from '../../../functions/pop3/listing';

describe('Function: parseUidlLine', () => {
  it('reads `n uid` (RFC 1939 §7), keeping a UID with spaces whole', () => {
    expect(parseUidlLine('2 QhdPYR:00WBw1Ph7x7')).toEqual({ messageNumber: 2, uid: 'QhdPYR:00WBw1Ph7x7' });
    expect(parseUidlLine(' 7  a b ')).toEqual({ messageNumber: 7, uid: 'a b' });
  });

  // Regression (fuzz suite, "uidl-line-without-number"): `+OK` alone gave message 0 with an empty
  // UID, and a word where the number belongs gave NaN, instead of a protocol error.
  it.each(['', '   ', '1', 'x uid', '0 uid', '-1 uid', '1e3 uid', '99999999999999999999 uid'])(
    'uidl-line-without-number: %j is EPROTOCOL',
    (text) => {
      expect(() => parseUidlLine(text)).toThrow(Pop3Error);
      expect(() => parseUidlLine(text)).toThrow(
        expect.objectContaining({ code: 'EPROTOCOL', command: 'UIDL' }),
      );
    },
  );
});

// Regression (fuzz suite, "echoed-password"): a listing quoting the client's password reached the
// EPROTOCOL message; the client's scrub now runs on the text first.
describe('echoed-password: listing parsers scrub the server text they quote', () => {
  const scrub = (text: string) => text.split('hunter2-secret').join('[redacted]');

  it.each([
    ['parseList', () => parseList(Buffer.from('1 100\r\nx hunter2-secret\r\n'), scrub)],
    ['parseUidl', () => parseUidl(Buffer.from('hunter2-secret uid\r\n'), scrub)],
    ['parseStat', () => parseStat('hunter2-secret 3', scrub)],
    ['parseUidlLine', () => parseUidlLine('hunter2-secret', scrub)],
  ])('%s', (_name, parse) => {
    expect(parse).toThrow(
      expect.objectContaining({ code: 'EPROTOCOL', message: expect.stringContaining('[redacted]') }),
    );
    expect(parse).not.toThrow(/hunter2/);
  });
});
