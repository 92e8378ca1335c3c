import type { AccountConfig } from './account';
import { mapBounded } from './bounded';
import { describeFailure } from './errors';
import { EVENT_SOURCE, stableEventId, type PollEvent, type PollSummaryDetail } from './events';
import { pollAccount, type AccountResult, type PollDependencies, type PollOptions } from './poll-account';

export interface PollAccountsOptions extends PollOptions {
  /** Accounts polled at once. Default 4. */
  readonly accountConcurrency?: number;
  /** Publish a "Poll Completed" / "Poll Failed" event per account. Default true. */
  readonly summaryEvents?: boolean;
}

/**
 * Polls every account, a bounded number at a time. One account's failure never stops another:
 * each account's outcome, including its error, is in its result.
 */
export async function pollAccounts(
  accounts: readonly AccountConfig[],
  deps: PollDependencies,
  options: PollAccountsOptions,
): Promise<AccountResult[]> {
  return mapBounded(accounts, options.accountConcurrency ?? 4, async (account) => {
    let result: AccountResult;
    try {
      result = await pollAccount(account, deps, options);
    } catch (error) {
      // pollAccount reports failures in its result; this is only for the unexpected.
      result = failedResult(account.id, error);
    }
    if (options.summaryEvents !== false) await publishSummary(result, deps, options);
    return result;
  });
}

/** Publishes the account's "Poll Completed" / "Poll Failed" event; a failure to publish is ignored. */
export async function publishSummary(
  result: AccountResult,
  deps: PollDependencies,
  options: PollOptions,
): Promise<void> {
  const time = (deps.clock?.now() ?? new Date()).toISOString();
  const detail: PollSummaryDetail = {
    accountId: result.accountId,
    runId: options.runId,
    status: result.status,
    listed: result.listed,
    fetched: result.fetched,
    archived: result.archived,
    deleted: result.deleted,
    bytes: result.bytes,
    durationMs: result.durationMs,
    remaining: result.remaining,
    ...(result.error
      ? {
          errorCode: result.error.code,
          errorMessage: result.error.message,
          retryable: result.error.retryable,
          needsAttention: result.error.needsAttention,
        }
      : {}),
  };
  const event: PollEvent<PollSummaryDetail> = {
    id: stableEventId('summary', options.runId, result.accountId),
    source: options.eventSource ?? EVENT_SOURCE,
    detailType: result.status === 'failed' ? 'Poll Failed' : 'Poll Completed',
    time,
    detail,
  };
  // A summary that cannot be published is not worth failing the run over: the messages are safe.
  await deps.events.publish([event]).catch(() => undefined);
}

function failedResult(accountId: string, error: unknown): AccountResult {
  return {
    accountId,
    status: 'failed',
    listed: 0,
    fetched: 0,
    archived: 0,
    alreadyArchived: 0,
    deleted: 0,
    failedMessages: 0,
    bytes: 0,
    durationMs: 0,
    remaining: 0,
    error: describeFailure(error),
    messageErrors: [],
  };
}
