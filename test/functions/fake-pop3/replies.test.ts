import { capaReply, dotStuff, multiLine, toCrlf, topOf } from '../../../functions/fake-pop3/replies';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('Module: fake-pop3 replies', () => {
  it.each([
    ['', ''],
    ['.', '..\r\n'],
    ['a\r\n.b\r\n..c\r\n', 'a\r\n..b\r\n...c\r\n'],
    ['no final newline', 'no final newline\r\n'],
    ['bare\n.lf\n', 'bare\n..lf\n'],
    ['.\r\n', '..\r\n'],
  ])('dot-stuffs %j as %j (RFC 1939 §3)', (body, stuffed) => {
    expect(dotStuff(bytes(body)).toString('latin1')).toBe(stuffed);
  });

  it('frames a multi-line reply and a CAPA list', () => {
    expect(multiLine('.x').toString()).toBe('+OK\r\n..x\r\n.\r\n');
    expect(capaReply('USER', 'TOP').toString()).toBe('+OK Capability list follows\r\nUSER\r\nTOP\r\n.\r\n');
  });

  it('makes bare LFs CRLF and leaves CRLF and 8-bit octets alone', () => {
    expect(toCrlf(bytes('a\nb\r\nc\n\xff\n')).toString('latin1')).toBe('a\r\nb\r\nc\r\n\xff\r\n');
    expect(toCrlf(bytes('\n')).toString('latin1')).toBe('\r\n');
    const crlf = bytes('already\r\n');
    expect(toCrlf(crlf)).toBe(crlf);
  });

  it('takes the header block and n body lines for TOP, the whole message when it has no body', () => {
    const message = bytes('A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree');
    expect(topOf(message, 0).toString('latin1')).toBe('A: 1\r\nB: 2\r\n\r\n');
    expect(topOf(message, 2).toString('latin1')).toBe('A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n');
    expect(topOf(message, 9).toString('latin1')).toBe(message.toString('latin1'));
    expect(topOf(bytes('A: 1\r\n'), 3).toString('latin1')).toBe('A: 1\r\n');
  });
});
