import fc from 'fast-check';

/**
 * Seeds and case counts of the fuzz suite, shared by the CI short form (jest, test/fuzz/*.test.ts)
 * and the long form (`npm run fuzz`, test/fuzz/run.ts).
 *
 * - `FUZZ_SEED`: the seed of every property (default `DEFAULT_SEED`, so a run is reproducible).
 * - `FUZZ_RUNS`: decoder and parser cases in all (default: short form 4,000, long form 120,000).
 * - `FUZZ_SESSIONS`: whole hostile sessions (default: short form 120, long form 3,000).
 * - `FUZZ_ONLY` and `FUZZ_PATH`: replay one property's counterexample, as a failure prints them.
 *
 * A failure names the seed, the counterexample's path and the command that replays it.
 */

export const DEFAULT_SEED = 20261207;

export interface FuzzSettings {
  readonly seed: number;
  readonly runs: number;
  readonly sessions: number;
}

export function fuzzSettings(defaults: { runs: number; sessions: number }): FuzzSettings {
  return {
    seed: intFromEnv('FUZZ_SEED', DEFAULT_SEED),
    runs: intFromEnv('FUZZ_RUNS', defaults.runs),
    sessions: intFromEnv('FUZZ_SESSIONS', defaults.sessions),
  };
}

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?[0-9]+$/.test(raw)) throw new Error(`${name} must be an integer, not "${raw}"`);
  return Number(raw);
}

/**
 * Runs a property and throws, when it fails, an error that says how to replay exactly that case:
 * fast-check's seed and path, and the environment for this suite.
 */
export async function checkProperty<T extends unknown[]>(
  name: string,
  property: fc.IPropertyWithHooks<T>,
  seed: number,
  numRuns: number,
): Promise<void> {
  // FUZZ_ONLY=<name> FUZZ_PATH=<path> replays one counterexample of one property.
  const only = process.env.FUZZ_ONLY;
  if (only && only !== name) return;
  const path = only ? process.env.FUZZ_PATH : undefined;
  const details = await fc.check(property, {
    seed,
    numRuns,
    ...(path ? { path } : {}),
  });
  if (!details.failed) return;
  const example = details.counterexample ? fc.stringify(details.counterexample).slice(0, 4000) : '(none)';
  const cause =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `fuzz property "${name}" failed after ${details.numRuns} case(s)\n` +
      `  reproduce: FUZZ_SEED=${seed} FUZZ_ONLY='${name}' FUZZ_PATH='${details.counterexamplePath}'\n` +
      `  cause: ${cause.slice(0, 4000)}\n  counterexample: ${example}`,
  );
}
