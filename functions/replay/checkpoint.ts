import { ReplayError } from './errors';

/**
 * A replay run's state, as the CLI keeps it in its state file (`--state`), rewritten after each
 * batch of events is published. A resumed run (`--resume FILE`) takes everything from it: the same
 * request (so the same range and destination), the same `runId` and `requestedAt` (so its events
 * carry the same `detail.replay`), and starts after `checkpoint`.
 *
 * Replay emits in a fixed order (accounts sorted, then keys in byte order) and moves the
 * checkpoint only past keys all of whose events were published, so nothing at or before the
 * checkpoint is emitted again. What was published after the last save (at most one batch, the
 * events in flight when the run was killed) is emitted again on resume: at-least-once.
 */
export interface ReplayState {
  readonly version: 1;
  readonly runId: string;
  readonly requestedAt: string;
  /** The command's options, as given (paths made absolute), without `--state` and `--resume`. */
  readonly args: readonly string[];
  /** The last key whose events were all emitted; null before the first. */
  readonly checkpoint: string | null;
  /** Events emitted, added up at the end of each part of the run (a killed part's are not counted). */
  readonly emitted: number;
  readonly complete: boolean;
  readonly updatedAt: string;
}

/** A state file's content, checked. */
export function parseState(text: string, source: string): ReplayState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ReplayError('ESTATE', `state file ${source} is not JSON: ${(error as Error).message}`);
  }
  const s = value as Partial<ReplayState> | null;
  const problem =
    s === null || typeof s !== 'object'
      ? 'not an object'
      : s.version !== 1
        ? 'unknown version'
        : typeof s.runId !== 'string' || s.runId === ''
          ? 'runId'
          : typeof s.requestedAt !== 'string' || Number.isNaN(Date.parse(s.requestedAt))
            ? 'requestedAt'
            : !Array.isArray(s.args) || !s.args.every((a) => typeof a === 'string')
              ? 'args'
              : s.checkpoint !== null && typeof s.checkpoint !== 'string'
                ? 'checkpoint'
                : typeof s.emitted !== 'number' || typeof s.complete !== 'boolean'
                  ? 'emitted/complete'
                  : undefined;
  if (problem !== undefined) {
    throw new ReplayError('ESTATE', `state file ${source} is not a replay state file (${problem})`);
  }
  return s as ReplayState;
}
