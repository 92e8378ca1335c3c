import { apopTimestamp } from '../../../functions/pop3/greeting';

describe('Function: apopTimestamp', () => {
  it('finds the RFC 1939 §7 timestamp in a greeting', () => {
    expect(apopTimestamp('POP3 server ready <1896.697170952@dbc.mtview.ca.us>')).toBe(
      '<1896.697170952@dbc.mtview.ca.us>',
    );
    expect(apopTimestamp('[SYS/TEMP] <a@b> and <c@d>')).toBe('<a@b>');
  });

  it('finds none in a greeting without one', () => {
    expect(apopTimestamp('Dovecot ready.')).toBeUndefined();
    expect(apopTimestamp('')).toBeUndefined();
  });

  // Regression (fuzz suite, "apop-garbage-banner"): `<>` and other bracketed garbage were taken for
  // a timestamp, so `auto` chose APOP against a server that never offered it.
  it.each(['<>', 'ready <>', '<a b@c>', '<\x00@x>', '<\ufffd@x>', '<unclosed@x', `<${'x'.repeat(251)}>`])(
    'apop-garbage-banner: %j has no timestamp',
    (text) => {
      expect(apopTimestamp(text)).toBeUndefined();
    },
  );
});
