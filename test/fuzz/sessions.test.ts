import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundMs, plainCase, runSessionCase, SESSION_DEADLINE_MS, SESSION_GRACE_MS } from './session-cases';
import { runCloseSweep, runSessions } from './session-runner';
import { fuzzSettings } from './settings';
import { bytes } from './wire';

/**
 * CI short form of the whole-session fuzz suite (session-cases.ts): a hundred-odd hostile
 * sessions through the real poll workflow, with the fixed default seed.
 */

const settings = fuzzSettings({ runs: 0, sessions: 120 });

describe('fuzz: whole sessions against a hostile server (short form)', () => {
  it(`${settings.sessions} sessions keep every invariant`, async () => {
    const report = await runSessions(settings.seed, settings.sessions);
    expect(report.failures).toEqual([]);
    expect(report.cases).toBe(process.env.FUZZ_CASE ? 1 : settings.sessions);
  }, 300_000);

  it('a close at every 5th byte of every reply keeps every invariant', async () => {
    const report = await runCloseSweep(5);
    expect(report.failures).toEqual([]);
    expect(report.tally['messages archived']).toBeGreaterThan(0);
  }, 300_000);

  // A reply that no timeout and, for hours, no size limit ends: only the hard stop (deadline +
  // grace) does. (An endless reply at full speed meets these sessions' 256 KiB message limit
  // first, ELIMIT; test/functions/poller/hard-stop.test.ts streams one at the default limit.)
  it('an endless RETR trickled just above the watchdog rate ends at the hard stop, keeping every invariant', async () => {
    const kind = 'trickle';
    const c = plainCase(
      [bytes('Subject: one\r\n\r\n.\r\n..two dots\r\n'), bytes('Subject: two\r\n\r\nbody\r\n')],
      [{ kind, verb: 'RETR', nth: 1 }],
    );
    const root = mkdtempSync(join(tmpdir(), 'pop3-fuzz-hard-stop-'));
    try {
      const outcome = await runSessionCase(c, root, `hard-stop-${kind}`);
      expect(outcome.violations).toEqual([]);
      expect(outcome.results[0]).toMatchObject({ archived: 1, deleted: 0, error: { code: 'EDEADLINE' } });
      expect(outcome.elapsedMs).toBeGreaterThanOrEqual(SESSION_DEADLINE_MS + SESSION_GRACE_MS - 50);
      expect(outcome.elapsedMs).toBeLessThanOrEqual(boundMs(c));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
