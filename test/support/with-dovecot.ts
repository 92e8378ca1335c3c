import { dovecotAvailable } from './dovecot';

/**
 * `describe` for suites that need a real Dovecot. Where Dovecot cannot run they are skipped, and
 * the global setup prints one line saying so; under `REQUIRE_DOVECOT=1` they always run (and fail
 * loudly if Dovecot is missing).
 */
export const describeWithDovecot: jest.Describe =
  dovecotAvailable() || process.env.REQUIRE_DOVECOT === '1' ? describe : describe.skip;
