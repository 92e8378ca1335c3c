import { DOVECOT_BINARY, dovecotAvailable } from './dovecot';

/** Runs once before the suite: says, in one line, whether the real-server tests will run. */
export default function globalSetup(): void {
  if (dovecotAvailable()) return;
  const why = DOVECOT_BINARY
    ? 'they need root to run Dovecot'
    : 'Dovecot is not installed (apt-get install dovecot-pop3d)';
  if (process.env.REQUIRE_DOVECOT === '1') {
    throw new Error(`REQUIRE_DOVECOT=1 but the real-server tests cannot run: ${why}`);
  }
  process.stderr.write(
    `\nSkipping the real-Dovecot tests: ${why}. Set REQUIRE_DOVECOT=1 to make this an error.\n`,
  );
}
