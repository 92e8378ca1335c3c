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
export { FileSecretCredentials, type FileSecretCredentialsOptions } from './file-secret-credentials';
export {
  isAcceptableTokenUrl,
  microsoftTokenUrl,
  OUTLOOK_APP_SCOPE,
  parseOAuth2Settings,
  type ClientCredentialsGrant,
  type OAuth2Grant,
  type RefreshTokenGrant,
  type TokenProvider,
  type TokenRequest,
} from './oauth2';
export { OAuth2TokenProvider, type OAuth2TokenProviderOptions } from './oauth2-token-provider';
export {
  parseSecret,
  SecretDocumentCredentials,
  type ResolvedSecret,
  type SecretDocumentOptions,
  type StoredSecret,
} from './secret-document';
export { SecretsManagerCredentials, type SecretIdResolver } from './secrets-manager-credentials';
export {
  StaticCredentials,
  type StaticAccountCredentials,
  type StaticCredentialsOptions,
} from './static-credentials';
