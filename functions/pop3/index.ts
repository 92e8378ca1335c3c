export { Capabilities } from './capabilities';
export { encodeCommand, MAX_COMMAND_OCTETS } from './command';
export { ERROR_CODES, errorCodeForResponseCode, isPop3Error, Pop3Error, type Pop3ErrorCode } from './errors';
export { MessageStream } from './message-stream';
export { Pop3Client, type SessionState } from './client';
export type { ListEntry, MailboxStat, UidlEntry } from './listing';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_TIMEOUTS,
  defaultPort,
  type Pop3ClientOptions,
  type Pop3Timeouts,
  type TraceEvent,
} from './options';
export { ReplyDecoder, parseStatusLine, type DecoderSink, type StatusLine } from './reply-decoder';
export { AUTH_METHODS, type AuthMethod, type Credentials, type SaslMechanismName } from './sasl';
export type { TlsMode, TlsSettings } from './transport';
