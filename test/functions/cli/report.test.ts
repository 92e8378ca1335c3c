import { exitCode, formatChecks } from '../../../functions/cli/report';
import type { CheckResult } from '../../../functions/poller/check';

const ok = (overrides: Partial<CheckResult> = {}): CheckResult => ({
  accountId: 'support',
  status: 'ok',
  server: { host: 'pop.example.com', port: 995, tls: 'implicit', tlsProtocol: 'TLSv1.3' },
  loginMethod: 'PLAIN',
  mode: 'delete',
  messages: 12,
  octets: 3 * 1024 * 1024,
  capabilities: ['PIPELINING', 'UIDL'],
  durationMs: 240,
  ...overrides,
});

const failed = (code: string, retryable: boolean): CheckResult => ({
  accountId: 'sales',
  status: 'failed',
  server: { host: 'pop.example.com', port: 995, tls: 'implicit' },
  mode: 'delete',
  durationMs: 510,
  error: { code, message: `${code} happened`, retryable, needsAttention: !retryable },
});

describe('formatChecks', () => {
  it.each<[string, Partial<CheckResult>, string]>([
    [
      'implicit TLS',
      {},
      'support  ok       pop.example.com:995 (TLSv1.3)  login PLAIN  12 messages, 3.0 MB  mode delete  0.2 s',
    ],
    [
      'STLS, one message (new), keep mode, a LOGIN-DELAY',
      {
        server: { host: 'mail.example.org', port: 110, tls: 'starttls', tlsProtocol: 'TLSv1.2' },
        messages: 1,
        octets: 900,
        newMessages: 1,
        mode: 'keep',
        loginDelaySeconds: 300,
      },
      'support  ok       mail.example.org:110 (STLS, TLSv1.2)  login PLAIN  1 message, 900 B (1 new)  mode keep  login delay 300 s  0.2 s',
    ],
    [
      'no TLS, an IPv6 address',
      { server: { host: '::1', port: 110, tls: 'none' }, loginMethod: 'APOP', messages: 0, octets: 0 },
      'support  ok       [::1]:110 (no TLS)  login APOP  0 messages, 0 B  mode delete  0.2 s',
    ],
  ])('%s', (_, overrides, line) => {
    expect(formatChecks([ok(overrides)])).toBe(`${line}\n`);
  });

  it('a failed check says where it connected and why it failed, not a mode', () => {
    expect(formatChecks([failed('EAUTH', false)])).toBe(
      'sales    failed   pop.example.com:995 (implicit TLS)  error EAUTH: EAUTH happened  0.5 s\n',
    );
  });

  it('a check that failed before it knew the server shows only the error', () => {
    const { server: _server, mode: _mode, ...bare } = failed('ECREDENTIALS', false);
    expect(formatChecks([bare])).toBe('sales    failed   error ECREDENTIALS: ECREDENTIALS happened  0.5 s\n');
  });
});

describe('exitCode for checks', () => {
  it('is 0 when all are ok, 75 when every failure is temporary, 1 when one needs attention', () => {
    expect(exitCode([ok(), ok()])).toBe(0);
    expect(exitCode([ok(), failed('ECONNECTION', true)])).toBe(75);
    expect(exitCode([failed('ECONNECTION', true), failed('EAUTH', false)])).toBe(1);
  });
});
