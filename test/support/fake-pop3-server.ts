import { FakeMailbox } from '../../functions/fake-pop3/mailbox';
import type { FakeContext, FakeScript, Reply } from '../../functions/fake-pop3/server';

/**
 * The tests' names for the one fake POP3 server (functions/fake-pop3/): the scriptable server,
 * the reply helpers, and `mailboxScript`, a small well-behaved mailbox with the defaults the
 * client tests were written against.
 */

export {
  startFakeServer,
  type FakeContext,
  type FakeScript,
  type FakeServer,
  type FakeServerOptions,
  type Received,
  type ReceivedChunk,
  type ReceivedLine,
  type Reply,
  type ReplyChunk,
} from '../../functions/fake-pop3/server';
export { capaReply, dotStuff, multiLine } from '../../functions/fake-pop3/replies';

export interface MailboxScriptOptions {
  readonly username?: string;
  readonly password?: string;
  /** CAPA lines before login. Default `USER`, `UIDL`, `TOP`. */
  readonly capa?: string[];
  /** CAPA lines after login. Default: the same as before. */
  readonly capaAfterLogin?: string[];
  /** Message bodies; message n is `messages[n - 1]`. */
  readonly messages?: Array<string | Buffer>;
  readonly greeting?: Reply;
  /** Checked first; return `undefined` to fall through to the standard replies. */
  readonly override?: (line: string, ctx: FakeContext) => Reply | undefined | Promise<Reply | undefined>;
}

/**
 * A small, well-behaved mailbox (the fake mailbox: USER/PASS, CAPA, STAT, LIST, UIDL, RETR, TOP,
 * DELE, NOOP, RSET, QUIT) to which a test adds only the misbehaviour it is about through `override`.
 * User `alice`, password `secret-password` unless given.
 */
export function mailboxScript(options: MailboxScriptOptions = {}): FakeScript {
  return new FakeMailbox({
    username: options.username ?? 'alice',
    password: options.password ?? 'secret-password',
    capabilities: options.capa ?? ['USER', 'UIDL', 'TOP'],
    ...(options.capaAfterLogin ? { capabilitiesAfterLogin: options.capaAfterLogin } : {}),
    ...(options.messages ? { messages: options.messages } : {}),
    ...(options.greeting !== undefined ? { greeting: options.greeting } : {}),
    ...(options.override ? { override: options.override } : {}),
  }).script;
}
