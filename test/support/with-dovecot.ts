import { dovecotAvailable } from './dovecot';

/**
 * Whether the real-server tests run: where Dovecot can run, and always under `REQUIRE_DOVECOT=1`
 * (where a missing Dovecot then fails loudly). Elsewhere the global setup prints one line saying
 * they are skipped.
 */
export const dovecotTestsRun: boolean = dovecotAvailable() || process.env.REQUIRE_DOVECOT === '1';

/** `describe` for suites that need a real Dovecot: skipped where `dovecotTestsRun` is false. */
export const describeWithDovecot: jest.Describe = dovecotTestsRun ? describe : describe.skip;
