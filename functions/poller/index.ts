export { ACCOUNT_ID_PATTERN, type AccountConfig, type AccountSecret } from './account';
export { archiveKey, normaliseUidl } from './archive-key';
export {
  checkAccount,
  checkAccounts,
  type CheckDependencies,
  type CheckOptions,
  type CheckResult,
} from './check';
export {
  describeFailure,
  POLL_ERROR_CODES,
  PollError,
  type FailureReport,
  type PollErrorCode,
} from './errors';
export * from './events';
export { readMetadata, type MessageMetadata } from './metadata';
export {
  HARD_STOP_GRACE_MS,
  MAX_SESSIONS_PER_RUN,
  pollAccount,
  type AccountProgress,
  type AccountResult,
  type AccountStatus,
  type PollDependencies,
  type PollOptions,
} from './poll-account';
export { pollAccounts, type PollAccountsOptions } from './poll-accounts';
export * from './ports';
export {
  isKeepOnlyLogin,
  PROVIDER_NAMES,
  PROVIDERS,
  providerPreset,
  type ProviderName,
  type ProviderPreset,
} from './providers';
export { Pop3MailboxSession } from './pop3-mailbox';
export {
  openSession,
  pop3Mailbox,
  resolveConnection,
  type Connection,
  type OpenSession,
  type SessionDependencies,
  type SessionOptions,
} from './session';
export { Spool } from './spool';
