import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  closeAtEveryByte,
  describeCase,
  runSessionCase,
  sessionCase,
  type SessionCase,
} from './session-cases';

/**
 * Runs `count` hostile sessions drawn with `seed`, `concurrency` at a time, and reports every
 * violated invariant with what replays it (`FUZZ_SEED=… FUZZ_CASE=…` reruns one case). Unhandled
 * rejections and uncaught exceptions during the run are failures too.
 */

export interface SessionRunReport {
  readonly cases: number;
  readonly failures: string[];
  readonly slowestMs: number;
  readonly totalMs: number;
  /** What the sessions came to: result statuses, error codes, messages archived and deleted. */
  readonly tally: Record<string, number>;
}

/** `count` cases drawn with `seed` (only case FUZZ_CASE when that is set). */
export function runSessions(
  seed: number,
  count: number,
  options: { concurrency?: number; onCase?: (done: number) => void } = {},
): Promise<SessionRunReport> {
  const only = process.env.FUZZ_CASE ? Number(process.env.FUZZ_CASE) : undefined;
  const cases = fc.sample(sessionCase, {
    seed,
    numRuns: only === undefined ? count : Math.max(count, only + 1),
  });
  const indices = only === undefined ? cases.map((_, i) => i) : [only];
  return runCases(cases, indices, (i) => `FUZZ_SEED=${seed} FUZZ_CASE=${i}`, options);
}

/** The close-at-every-byte sweep (`stride` apart; only case FUZZ_SWEEP_CASE when that is set). */
export function runCloseSweep(
  stride: number,
  options: { concurrency?: number; onCase?: (done: number) => void } = {},
): Promise<SessionRunReport> {
  const only = process.env.FUZZ_SWEEP_CASE ? Number(process.env.FUZZ_SWEEP_CASE) : undefined;
  const cases = closeAtEveryByte(stride);
  const indices = only === undefined ? cases.map((_, i) => i) : [only];
  return runCases(
    cases,
    indices,
    (i) => `FUZZ_SWEEP_CASE=${i}${stride > 1 ? ` (stride ${stride})` : ''}`,
    options,
  );
}

async function runCases(
  cases: readonly SessionCase[],
  indices: readonly number[],
  replay: (index: number) => string,
  options: { concurrency?: number; onCase?: (done: number) => void },
): Promise<SessionRunReport> {
  const failures: string[] = [];
  const inFlight = new Set<number>();
  const stray = (kind: string) => (error: unknown) =>
    failures.push(
      `${kind} while cases ${[...inFlight].map(replay).join(', ')} ran: ${
        error instanceof Error ? (error.stack ?? error.message) : String(error)
      }`,
    );
  const onRejection = stray('unhandled rejection');
  const onException = stray('uncaught exception');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  const tempRoot = mkdtempSync(join(tmpdir(), 'pop3-fuzz-'));
  const started = Date.now();
  let slowestMs = 0;
  const tally: Record<string, number> = {};
  const count = (key: string, by = 1) => (tally[key] = (tally[key] ?? 0) + by);
  let next = 0;
  let done = 0;
  try {
    const worker = async () => {
      while (next < indices.length) {
        const index = indices[next++]!;
        const c = cases[index]!;
        inFlight.add(index);
        try {
          const outcome = await runSessionCase(c, tempRoot, `fuzz-${index}`);
          slowestMs = Math.max(slowestMs, outcome.elapsedMs);
          for (const r of outcome.results) {
            count(`status ${r.status}`);
            if (r.error) count(`error ${r.error.code}`);
            count('messages archived', r.archived);
            count('messages deleted', r.deleted);
          }
          if (outcome.violations.length > 0) {
            failures.push(
              `session case ${index} (reproduce: ${replay(index)}): ` +
                `${outcome.violations.join('; ')}\n  case: ${describeCase(c).slice(0, 3000)}\n` +
                `  result: ${JSON.stringify(outcome.results).slice(0, 3000)}`,
            );
          }
        } catch (error) {
          failures.push(
            `session case ${index} (reproduce: ${replay(index)}) threw: ${
              error instanceof Error ? (error.stack ?? error.message) : String(error)
            }\n  case: ${describeCase(c)}`,
          );
        } finally {
          inFlight.delete(index);
          options.onCase?.(++done);
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 6 }, worker));
    // Late stray rejections from the last cases.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    rmSync(tempRoot, { recursive: true, force: true });
  }
  return { cases: indices.length, failures, slowestMs, totalMs: Date.now() - started, tally };
}
