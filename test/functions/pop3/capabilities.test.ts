import { Capabilities } from '../../../functions/pop3/capabilities';

// CAPA bodies as the reply decoder hands them over: dot-unstuffed, final CRLF kept.
const DOVECOT =
  'TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN CRAM-MD5\r\n';
const GMAIL =
  'USER\r\nRESP-CODES\r\nEXPIRE 0\r\nLOGIN-DELAY 300\r\nTOP\r\nUIDL\r\nX-GOOGLE-RICO\r\nSASL PLAIN XOAUTH2 OAUTHBEARER\r\n';
const MICROSOFT = 'TOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\nUSER\r\n';

const parse = (body: string) => Capabilities.parse(Buffer.from(body, 'utf8'));

describe('Class: Capabilities', () => {
  describe('Dovecot', () => {
    const capa = parse(DOVECOT);

    it('lists every tag in server order', () => {
      expect(capa.tags).toEqual([
        'TOP',
        'UIDL',
        'RESP-CODES',
        'PIPELINING',
        'AUTH-RESP-CODE',
        'STLS',
        'USER',
        'SASL',
      ]);
    });

    it('advertises pipelining and STLS', () => {
      expect(capa.pipelining).toBe(true);
      expect(capa.has('STLS')).toBe(true);
    });

    it('offers PLAIN, LOGIN and CRAM-MD5', () => {
      expect(capa.saslMechanisms).toEqual(['PLAIN', 'LOGIN', 'CRAM-MD5']);
    });

    it('says nothing about LOGIN-DELAY or EXPIRE', () => {
      expect(capa.loginDelaySeconds).toBeUndefined();
      expect(capa.expireDays).toBeUndefined();
      expect(capa.args('TOP')).toEqual([]);
    });
  });

  describe('Gmail', () => {
    const capa = parse(GMAIL);

    it('reads LOGIN-DELAY 300 and EXPIRE 0', () => {
      expect(capa.loginDelaySeconds).toBe(300);
      expect(capa.expireDays).toBe(0);
      expect(capa.args('LOGIN-DELAY')).toEqual(['300']);
    });

    it('offers PLAIN, XOAUTH2 and OAUTHBEARER, and no pipelining or STLS', () => {
      expect(capa.saslMechanisms).toEqual(['PLAIN', 'XOAUTH2', 'OAUTHBEARER']);
      expect(capa.pipelining).toBe(false);
      expect(capa.has('STLS')).toBe(false);
    });

    it('keeps vendor tags', () => {
      expect(capa.has('X-GOOGLE-RICO')).toBe(true);
      expect(capa.tags).toEqual([
        'USER',
        'RESP-CODES',
        'EXPIRE',
        'LOGIN-DELAY',
        'TOP',
        'UIDL',
        'X-GOOGLE-RICO',
        'SASL',
      ]);
    });
  });

  describe('Microsoft 365', () => {
    const capa = parse(MICROSOFT);

    it('offers PLAIN and XOAUTH2, USER, and no pipelining', () => {
      expect(capa.tags).toEqual(['TOP', 'UIDL', 'SASL', 'USER']);
      expect(capa.saslMechanisms).toEqual(['PLAIN', 'XOAUTH2']);
      expect(capa.has('USER')).toBe(true);
      expect(capa.pipelining).toBe(false);
      expect(capa.loginDelaySeconds).toBeUndefined();
    });
  });

  describe('parsing', () => {
    it('is case-insensitive in tags and in lookups, and upper-cases SASL mechanisms', () => {
      const capa = parse('pipelining\r\nSasl plain xoauth2\r\nLogin-Delay 900\r\n');
      expect(capa.pipelining).toBe(true);
      expect(capa.has('PIPELINING')).toBe(true);
      expect(capa.has('Pipelining')).toBe(true);
      expect(capa.has('sasl')).toBe(true);
      expect(capa.saslMechanisms).toEqual(['PLAIN', 'XOAUTH2']);
      expect(capa.args('login-delay')).toEqual(['900']);
      expect(capa.loginDelaySeconds).toBe(900);
      expect(capa.tags).toEqual(['PIPELINING', 'SASL', 'LOGIN-DELAY']);
    });

    it('keeps argument case as sent, except SASL mechanisms', () => {
      expect(parse('IMPLEMENTATION Dovecot-Pop3\r\n').args('implementation')).toEqual(['Dovecot-Pop3']);
    });

    it('tolerates bare LF, extra spaces, tabs and blank lines', () => {
      const capa = parse('  TOP  \n\r\nSASL\tPLAIN   LOGIN \r\n\nUIDL\n');
      expect(capa.tags).toEqual(['TOP', 'SASL', 'UIDL']);
      expect(capa.saslMechanisms).toEqual(['PLAIN', 'LOGIN']);
    });

    it('reads the per-user forms `LOGIN-DELAY n USER` and `EXPIRE n USER` (RFC 2449 §6.5, §6.7)', () => {
      const capa = parse('LOGIN-DELAY 900 USER\r\nEXPIRE 60 USER\r\n');
      expect(capa.loginDelaySeconds).toBe(900);
      expect(capa.expireDays).toBe(60);
    });

    it('reads EXPIRE NEVER as no expiry', () => {
      expect(parse('EXPIRE NEVER\r\n').expireDays).toBeUndefined();
      expect(parse('EXPIRE NEVER\r\n').has('EXPIRE')).toBe(true);
    });

    it('ignores LOGIN-DELAY and EXPIRE values that are not 1*DIGIT (RFC 2449 §6.5, §6.7)', () => {
      for (const value of ['-5', '0x10', '1e3', '1.5', 'Infinity', '+30', '']) {
        const capa = parse(`LOGIN-DELAY ${value}\r\nEXPIRE ${value}\r\n`);
        expect({ value, delay: capa.loginDelaySeconds, expire: capa.expireDays }).toEqual({
          value,
          delay: undefined,
          expire: undefined,
        });
      }
    });

    it('has no SASL mechanisms when SASL is absent or bare', () => {
      expect(parse('USER\r\n').saslMechanisms).toEqual([]);
      expect(parse('SASL\r\n').saslMechanisms).toEqual([]);
    });

    it('is empty for an empty body and by default', () => {
      expect(parse('').tags).toEqual([]);
      expect(new Capabilities().tags).toEqual([]);
      expect(new Capabilities().pipelining).toBe(false);
      expect(new Capabilities().saslMechanisms).toEqual([]);
    });
  });
});
