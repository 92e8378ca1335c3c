import {
  apopDigest,
  saslClient,
  type Credentials,
  type SaslMechanismName,
} from '../../../functions/pop3/sasl';
import { expectConfigError } from '../../support/thrown';

const decoded = (base64: string | undefined): string =>
  Buffer.from(base64 ?? '', 'base64').toString('latin1');
const challenge = (text: string) => Buffer.from(text, 'utf8');

describe('Function: saslClient', () => {
  describe('PLAIN (RFC 4616)', () => {
    it('sends NUL authcid NUL passwd as the initial response', () => {
      const mech = saslClient('PLAIN', { username: 'tim', password: 'tanstaaf' });
      expect(mech.name).toBe('PLAIN');
      expect(decoded(mech.initialResponse)).toBe('\x00tim\x00tanstaaf');
      expect(mech.initialResponse).toBe('AHRpbQB0YW5zdGFhZg==');
    });

    it('puts the authorisation identity first (RFC 4616 §4 example)', () => {
      const mech = saslClient('PLAIN', { username: 'test', password: 'test', authzid: 'test' });
      expect(mech.initialResponse).toBe('dGVzdAB0ZXN0AHRlc3Q=');
    });

    it('encodes non-ASCII credentials as UTF-8', () => {
      const mech = saslClient('PLAIN', { username: 'jörg', password: 'pässwörd' });
      expect(Buffer.from(mech.initialResponse!, 'base64')).toEqual(
        Buffer.concat([Buffer.from([0]), Buffer.from('jörg'), Buffer.from([0]), Buffer.from('pässwörd')]),
      );
    });

    it('answers an empty challenge with an empty response', () => {
      const mech = saslClient('PLAIN', { username: 'tim', password: 'tanstaaf' });
      expect(mech.respond(Buffer.alloc(0))).toBe('');
    });
  });

  describe('LOGIN', () => {
    it('has no initial response and answers the username, then the password', () => {
      const mech = saslClient('LOGIN', { username: 'tim@example.org', password: 'tanstaaf' });
      expect(mech.initialResponse).toBeUndefined();
      expect(decoded(mech.respond(challenge('Username:')))).toBe('tim@example.org');
      expect(decoded(mech.respond(challenge('Password:')))).toBe('tanstaaf');
    });

    it('relies on the order of the prompts, not their wording', () => {
      const mech = saslClient('LOGIN', { username: 'tim', password: 'tanstaaf' });
      expect(decoded(mech.respond(challenge('User Name\x00')))).toBe('tim');
      expect(decoded(mech.respond(challenge('')))).toBe('tanstaaf');
    });
  });

  describe('CRAM-MD5 (RFC 2195)', () => {
    it('answers the RFC 2195 §2 example challenge', () => {
      const mech = saslClient('CRAM-MD5', { username: 'tim', password: 'tanstaaftanstaaf' });
      expect(mech.initialResponse).toBeUndefined();
      const response = mech.respond(
        Buffer.from('PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+', 'base64'),
      );
      expect(decoded(response)).toBe('tim b913a602c7eda7a495b4e6e7334d3890');
      expect(response).toBe('dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw');
    });

    it('digests the challenge bytes, not a re-encoding of them', () => {
      const mech = saslClient('CRAM-MD5', { username: 'tim', password: 'tanstaaftanstaaf' });
      const other = decoded(mech.respond(Buffer.from([0x3c, 0xff, 0xfe, 0x3e])));
      // HMAC-MD5("tanstaaftanstaaf", 3C FF FE 3E), computed with Python hmac; a UTF-8 round trip of the
      // challenge would have replaced FF FE and given another digest.
      expect(other).toBe('tim df25ffc22073f0ead6b36715559831a9');
    });
  });

  describe('XOAUTH2', () => {
    it("sends user=...^Aauth=Bearer ...^A^A (the example in Google's XOAUTH2 documentation)", () => {
      const mech = saslClient('XOAUTH2', {
        username: 'someuser@example.com',
        accessToken: 'ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg',
      });
      expect(decoded(mech.initialResponse)).toBe(
        'user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01',
      );
      expect(mech.initialResponse).toBe(
        'dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==',
      );
    });

    it('uses the access token, not the password', () => {
      const mech = saslClient('XOAUTH2', { username: 'u@example.com', password: 'pw', accessToken: 'tok' });
      expect(decoded(mech.initialResponse)).toBe('user=u@example.com\x01auth=Bearer tok\x01\x01');
    });

    it('answers an error challenge with an empty line to get the final -ERR', () => {
      const mech = saslClient('XOAUTH2', { username: 'u@example.com', accessToken: 'tok' });
      expect(
        mech.respond(challenge('{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}')),
      ).toBe('');
    });
  });

  describe('OAUTHBEARER (RFC 7628)', () => {
    it('sends the GS2 header and auth key-value pair', () => {
      const mech = saslClient('OAUTHBEARER', {
        username: 'user@example.com',
        accessToken: 'vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==',
      });
      expect(decoded(mech.initialResponse)).toBe(
        'n,a=user@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01',
      );
    });

    it('escapes `,` as =2C and `=` as =3D in the username (RFC 5801 §4 saslname)', () => {
      const mech = saslClient('OAUTHBEARER', { username: 'a,b=c@example.com', accessToken: 'tok' });
      expect(decoded(mech.initialResponse)).toBe('n,a=a=2Cb=3Dc@example.com,\x01auth=Bearer tok\x01\x01');
    });

    it('escapes `=` before `,` so an escape is never escaped twice', () => {
      const mech = saslClient('OAUTHBEARER', { username: 'x=2C,', accessToken: 'tok' });
      expect(decoded(mech.initialResponse)).toBe('n,a=x=3D2C=2C,\x01auth=Bearer tok\x01\x01');
    });

    it('answers an error challenge with a single ^A (RFC 7628 §3.2.3)', () => {
      const mech = saslClient('OAUTHBEARER', { username: 'u@example.com', accessToken: 'tok' });
      const response = mech.respond(challenge('{"status":"invalid_token"}'));
      expect(decoded(response)).toBe('\x01');
      expect(response).toBe('AQ==');
    });
  });

  describe('missing secrets', () => {
    it.each<[SaslMechanismName, Credentials, string]>([
      ['PLAIN', { username: 'tim' }, 'PLAIN login needs a password'],
      ['PLAIN', { username: 'tim', password: '' }, 'PLAIN login needs a password'],
      ['PLAIN', { username: 'tim', accessToken: 'tok' }, 'PLAIN login needs a password'],
      ['LOGIN', { username: 'tim' }, 'LOGIN login needs a password'],
      ['CRAM-MD5', { username: 'tim', password: '' }, 'CRAM-MD5 login needs a password'],
      ['XOAUTH2', { username: 'tim', password: 'pw' }, 'XOAUTH2 login needs an access token'],
      ['XOAUTH2', { username: 'tim', accessToken: '' }, 'XOAUTH2 login needs an access token'],
      ['OAUTHBEARER', { username: 'tim' }, 'OAUTHBEARER login needs an access token'],
    ])('%s with %j throws ECONFIG before anything is sent', (name, creds, message) => {
      const error = expectConfigError(() => saslClient(name, creds));
      expect(error.message).toBe(message);
      expect(error.command).toBe('AUTH');
      expect(error.retryable).toBe(false);
    });
  });

  describe('separator injection', () => {
    it.each<[string, SaslMechanismName, Credentials, string]>([
      ['PLAIN: NUL in the username', 'PLAIN', { username: 'tim\x00admin', password: 's3cr3t' }, 'NUL'],
      ['PLAIN: NUL in the password', 'PLAIN', { username: 'tim', password: 's3cr3t\x00x' }, 'NUL'],
      [
        'PLAIN: NUL in the authzid',
        'PLAIN',
        { username: 'tim', password: 's3cr3t', authzid: 'admin\x00' },
        'NUL',
      ],
      [
        'XOAUTH2: ^A in the username',
        'XOAUTH2',
        { username: 'tim\x01auth=Bearer admin', accessToken: 's3cr3t' },
        '^A',
      ],
      ['XOAUTH2: ^A in the token', 'XOAUTH2', { username: 'tim', accessToken: 's3cr3t\x01\x01' }, '^A'],
      [
        'OAUTHBEARER: ^A in the username',
        'OAUTHBEARER',
        { username: 'tim\x01host=admin', accessToken: 's3cr3t' },
        '^A',
      ],
      ['OAUTHBEARER: ^A in the token', 'OAUTHBEARER', { username: 'tim', accessToken: 's3cr3t\x01' }, '^A'],
    ])('%s throws ECONFIG without echoing the credentials', (_what, name, creds, separator) => {
      const error = expectConfigError(() => saslClient(name, creds));
      expect(error.command).toBe('AUTH');
      expect(error.message).toContain(`${name} credentials must not contain ${separator}`);
      expect(error.message).not.toMatch(/s3cr3t|admin|tim/);
    });
  });
});

describe('Function: apopDigest', () => {
  it('matches the RFC 1939 §7 example', () => {
    expect(apopDigest('<1896.697170952@dbc.mtview.ca.us>', 'tanstaaf')).toBe(
      'c4c9334bac560ecc979e58001b3e22fb',
    );
  });

  it('hashes the timestamp and the secret as UTF-8', () => {
    // MD5("<1.2@host>pässwörd" in UTF-8), computed with Python hashlib.
    expect(apopDigest('<1.2@host>', 'pässwörd')).toBe('240820ce8c29069f66b306ad57cb154a');
  });
});
