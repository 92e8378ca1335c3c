import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bundleCli,
  drawnCliCases,
  FAST_CLI_CASES,
  HARD_STOP_CLI_CASES,
  runCliCase,
  type CliCase,
} from './cli-cases';
import { fuzzSettings } from './settings';

/**
 * CI short form of the whole-CLI fuzz runs (cli-cases.ts): the bundled bin against the hostile
 * mailbox, in cases that end without waiting for the default timeouts. `npm run fuzz` adds the
 * silent and dripping servers.
 */

const settings = fuzzSettings({ runs: 0, sessions: 0 });
const CASES: readonly CliCase[] = [
  ...FAST_CLI_CASES,
  ...HARD_STOP_CLI_CASES,
  ...drawnCliCases(settings.seed, 4, true),
];

describe('fuzz: the CLI against a hostile server (short form)', () => {
  let dir: string;
  let bin: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pop3-fuzz-bin-'));
    bin = await bundleCli(dir);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const outcome = await runCliCase(bin, c);
    expect(outcome.violations).toEqual([]);
  });
});
