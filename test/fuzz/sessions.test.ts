import { runCloseSweep, runSessions } from './session-runner';
import { fuzzSettings } from './settings';

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
});
