import { describeFailure, type FailureReport } from './errors';
import type { AccountResult, AccountStatus } from './poll-account';

const MAX_REPORTED_MESSAGE_ERRORS = 10;
/** Failures that mean the account was not polled this time, and nothing is wrong with it. */
const SKIPPED_CODES = new Set(['EIN_USE', 'ELOGIN_DELAY', 'ESTOPPED']);

/**
 * What an account's run has done so far, over all its sessions: the counts its result reports, why
 * it stopped early, and the per-message problems that did not stop it. Sessions add to it; the run
 * turns it into the `AccountResult`.
 */
export class RunTally {
  /** Messages on the server when the run looked (in keep mode: those not archived before). */
  listed = 0;
  fetched = 0;
  archived = 0;
  /** Of `archived`, how many the archive already held. */
  alreadyArchived = 0;
  /** DELEs committed by a successful QUIT. */
  deleted = 0;
  failedMessages = 0;
  bytes = 0;
  stoppedBy: AccountResult['stoppedBy'];
  moreMayRemain = false;
  loginDelaySeconds: number | undefined;
  readonly messageErrors: FailureReport[] = [];

  /** A message that could not be fetched or archived this run (it stays on the server). */
  messageFailed(error: unknown): void {
    this.failedMessages += 1;
    this.report(error);
  }

  /** A problem worth reporting that is not a failed message (e.g. a refused DELE); first few only. */
  report(error: unknown): void {
    if (this.messageErrors.length < MAX_REPORTED_MESSAGE_ERRORS)
      this.messageErrors.push(describeFailure(error));
  }

  /** Archived this run and not in the archive before. */
  get newlyArchived(): number {
    return this.archived - this.alreadyArchived;
  }

  result(accountId: string, mode: 'delete' | 'keep', durationMs: number, error: unknown): AccountResult {
    const report = error === undefined ? undefined : describeFailure(error);
    let status: AccountStatus = 'ok';
    if (report) status = SKIPPED_CODES.has(report.code) ? 'skipped' : 'failed';
    else if (this.failedMessages > 0) status = 'partial';
    if (report && this.stoppedBy === undefined && this.fetched > 0) this.stoppedBy = 'error';
    // What is still on the server for a later run to handle.
    const done = mode === 'keep' ? this.archived : this.deleted;
    const remaining = Math.max(0, this.listed - done);
    return {
      accountId,
      status,
      listed: this.listed,
      fetched: this.fetched,
      archived: this.archived,
      alreadyArchived: this.alreadyArchived,
      deleted: this.deleted,
      failedMessages: this.failedMessages,
      bytes: this.bytes,
      durationMs,
      remaining,
      ...(this.stoppedBy ? { stoppedBy: this.stoppedBy } : {}),
      ...(this.moreMayRemain ? { moreMayRemain: true } : {}),
      ...(this.loginDelaySeconds !== undefined ? { loginDelaySeconds: this.loginDelaySeconds } : {}),
      ...(report ? { error: report } : {}),
      messageErrors: this.messageErrors,
    };
  }
}
