import { chooseAuthMethod, guardCleartext, type LoginContext } from '../../../functions/pop3/auth-choice';
import { Capabilities } from '../../../functions/pop3/capabilities';
import { thrown } from '../../support/thrown';

const capa = (...lines: string[]) => Capabilities.parse(Buffer.from(lines.map((l) => `${l}\r\n`).join('')));

function login(overrides: Partial<LoginContext> = {}): LoginContext {
  return {
    auth: { username: 'alice', password: 'secret' },
    capabilities: capa('USER', 'SASL PLAIN LOGIN CRAM-MD5'),
    apopTimestamp: undefined,
    encrypted: true,
    allowPlaintextAuth: false,
    ...overrides,
  };
}

describe('Function: chooseAuthMethod', () => {
  it.each([
    ['PLAIN over TLS when offered', login(), 'PLAIN'],
    ['USER over TLS without SASL PLAIN', login({ capabilities: capa('USER', 'SASL LOGIN') }), 'USER'],
    ['LOGIN when neither PLAIN nor USER is offered', login({ capabilities: capa('SASL LOGIN') }), 'LOGIN'],
    ['USER from a server without CAPA (RFC 1939 only)', login({ capabilities: new Capabilities() }), 'USER'],
    ['CRAM-MD5 over cleartext (a digest only)', login({ encrypted: false }), 'CRAM-MD5'],
    [
      'APOP over cleartext when the greeting has a timestamp and there is no CRAM-MD5',
      login({ encrypted: false, capabilities: capa('USER', 'SASL PLAIN'), apopTimestamp: '<1.2@host>' }),
      'APOP',
    ],
    [
      'XOAUTH2 for a token',
      login({
        auth: { username: 'a', accessToken: 'tok' },
        capabilities: capa('SASL PLAIN XOAUTH2 OAUTHBEARER'),
      }),
      'XOAUTH2',
    ],
    [
      'OAUTHBEARER for a token when XOAUTH2 is not offered',
      login({ auth: { username: 'a', accessToken: 'tok' }, capabilities: capa('SASL OAUTHBEARER') }),
      'OAUTHBEARER',
    ],
    [
      'the configured method, whatever is offered',
      login({ auth: { username: 'a', password: 'p', method: 'LOGIN' } }),
      'LOGIN',
    ],
  ])('picks %s', (_why, context, method) => {
    expect(chooseAuthMethod(context)).toBe(method);
  });

  it('refuses a token login the server cannot take, and APOP without a timestamp', () => {
    expect(() => chooseAuthMethod(login({ auth: { username: 'a', accessToken: 'tok' } }))).toThrow(
      expect.objectContaining({ code: 'EAUTH' }),
    );
    expect(() => chooseAuthMethod(login({ auth: { username: 'a', password: 'p', method: 'APOP' } }))).toThrow(
      expect.objectContaining({ code: 'EAUTH' }),
    );
  });

  it('needs a password or a token', () => {
    expect(() => chooseAuthMethod(login({ auth: { username: 'a' } }))).toThrow(
      expect.objectContaining({ code: 'ECONFIG' }),
    );
  });
});

describe('Function: guardCleartext', () => {
  it('lets anything through over TLS, and digests or an explicit allowance over cleartext', () => {
    expect(() => guardCleartext('PLAIN', login())).not.toThrow();
    expect(() => guardCleartext('CRAM-MD5', login({ encrypted: false }))).not.toThrow();
    expect(() => guardCleartext('APOP', login({ encrypted: false }))).not.toThrow();
    expect(() => guardCleartext('USER', login({ encrypted: false, allowPlaintextAuth: true }))).not.toThrow();
  });

  it.each(['USER', 'PLAIN', 'LOGIN', 'XOAUTH2', 'OAUTHBEARER'] as const)(
    'refuses %s over cleartext, naming the setting and no secret',
    (method) => {
      const error = thrown(() => guardCleartext(method, login({ encrypted: false })));
      expect(error).toMatchObject({
        code: 'ECONFIG',
        message: expect.stringContaining('allowPlaintextAuth'),
      });
      expect((error as Error).message).not.toContain('secret');
    },
  );
});
