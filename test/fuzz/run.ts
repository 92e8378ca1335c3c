import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bundleCli,
  drawnCliCases,
  FAST_CLI_CASES,
  HARD_STOP_CLI_CASES,
  runCliCase,
  SLOW_CLI_CASES,
} from './cli-cases';
import { DECODER_PROPERTIES, LONG_LISTING, runsFor } from './decoder-properties';
import { runCloseSweep, runSessions } from './session-runner';
import { checkProperty, fuzzSettings } from './settings';

/**
 * `npm run fuzz`: the long form of the fuzz suite. Runs ≥ 100,000 decoder and parser cases, a few
 * thousand whole hostile sessions and the whole-CLI cases (the slow ones included, which wait for
 * the CLI's default timeouts), prints what it ran and every failure with the command that replays
 * it, and exits 1 if anything failed. FUZZ_SEED, FUZZ_RUNS and FUZZ_SESSIONS override the defaults
 * (settings.ts); FUZZ_SKIP_CLI=1 leaves the CLI out.
 */

async function main(): Promise<number> {
  const settings = fuzzSettings({ runs: 120_000, sessions: 3000 });
  const started = Date.now();
  const failures: string[] = [];
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`fuzz: seed ${settings.seed}, ${settings.runs} decoder/parser cases, ${settings.sessions} sessions`);

  let decoderCases = 0;
  for (const property of [...DECODER_PROPERTIES, LONG_LISTING]) {
    const runs = property === LONG_LISTING ? 5 : runsFor(property, settings.runs);
    const t0 = Date.now();
    try {
      await checkProperty(property.name, property.property, settings.seed, runs);
      say(`  ok    ${runs.toLocaleString('en')} cases  ${ms(Date.now() - t0)}  ${property.name}`);
    } catch (error) {
      failures.push((error as Error).message);
      say(`  FAIL  ${runs.toLocaleString('en')} cases  ${ms(Date.now() - t0)}  ${property.name}`);
    }
    decoderCases += runs;
  }

  const sessions = await runSessions(settings.seed, settings.sessions, {
    onCase: (done) => {
      if (done % 500 === 0) say(`  … ${done} sessions`);
    },
  });
  failures.push(...sessions.failures);
  say(
    `  ${sessions.failures.length === 0 ? 'ok  ' : 'FAIL'}  ${sessions.cases.toLocaleString('en')} sessions  ` +
      `${ms(sessions.totalMs)}  (slowest ${ms(sessions.slowestMs)})`,
  );
  say(
    `        ${Object.entries(sessions.tally)
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}`,
  );

  const sweep = await runCloseSweep(1);
  failures.push(...sweep.failures);
  say(
    `  ${sweep.failures.length === 0 ? 'ok  ' : 'FAIL'}  ${sweep.cases.toLocaleString('en')} sessions closed at every ` +
      `byte of every reply  ${ms(sweep.totalMs)}`,
  );

  // After the sessions, not beside them: the CLI processes would take the CPU the sessions'
  // timeouts are measured against.
  const cliReport =
    process.env.FUZZ_SKIP_CLI === '1' ? { cases: 0, failures: [] as string[] } : await runCli(settings.seed);
  failures.push(...cliReport.failures);

  say('');
  say(`decoder and parser cases: ${decoderCases.toLocaleString('en')}`);
  say(`whole sessions:           ${(sessions.cases + sweep.cases).toLocaleString('en')}`);
  say(`CLI runs:                 ${cliReport.cases}`);
  say(`failures:                 ${failures.length}`);
  say(`time:                     ${ms(Date.now() - started)}`);
  for (const failure of failures) say(`\n${failure}`);
  return failures.length === 0 ? 0 : 1;
}

async function runCli(seed: number): Promise<{ cases: number; failures: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'pop3-fuzz-bin-'));
  try {
    const bin = await bundleCli(dir);
    const cases = [
      ...FAST_CLI_CASES,
      ...HARD_STOP_CLI_CASES,
      ...SLOW_CLI_CASES,
      ...drawnCliCases(seed, 12, false),
    ];
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const outcome = await runCliCase(bin, c);
        process.stdout.write(
          `  ${outcome.violations.length === 0 ? 'ok  ' : 'FAIL'}  CLI exit ${outcome.exitCode} ` +
            `${ms(outcome.elapsedMs)}  ${c.name}\n`,
        );
        if (outcome.violations.length > 0)
          failures.push(`CLI case "${c.name}": ${outcome.violations.join('; ')}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return { cases: cases.length, failures };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ms(value: number): string {
  return value >= 10_000
    ? `${(value / 1000).toFixed(0)} s`
    : value >= 1000
      ? `${(value / 1000).toFixed(1)} s`
      : `${value} ms`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fuzz: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
