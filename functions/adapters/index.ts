export { DirectoryArchiveStore, type DirectoryArchiveStoreOptions } from './directory-archive-store';
export {
  ArchiveError,
  CredentialError,
  isArchiveError,
  isCredentialError,
  type ArchiveFailure,
  type CredentialFailure,
} from './errors';
export {
  EventBridgeSink,
  entrySize,
  type EventBridgeSinkOptions,
  type PublishFailure,
} from './eventbridge-sink';
export { JsonLinesEventSink, type JsonLinesEventSinkOptions } from './jsonl-event-sink';
export { createS3Client, type S3ClientSettings } from './s3-client';
export { S3ArchiveStore, type S3ArchiveStoreOptions } from './s3-archive-store';
export {
  parseSecret,
  SecretsManagerCredentials,
  type ResolvedSecret,
  type SecretIdResolver,
} from './secrets-manager-credentials';
export {
  StaticCredentials,
  type StaticAccountCredentials,
  type StaticCredentialsOptions,
} from './static-credentials';
