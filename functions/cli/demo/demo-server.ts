import { startFakeMailbox } from '../../fake-pop3/mailbox';
import type { SelfSignedCertificate } from './self-signed';

/**
 * The POP3 server of `pop3-poller demo`, in this process, so the demo runs with nothing installed:
 * the fake mailbox (functions/fake-pop3/) set up as a careful real server would be. STLS is offered
 * and required before PASS (RFC 2595), CAPA lists PIPELINING, UIDL, TOP and RESP-CODES, RETR is
 * byte-stuffed, and only QUIT removes what was DELE'd (RFC 1939 §6). One user, in memory.
 */
export interface DemoServer {
  readonly port: number;
  /** Messages still in the mailbox. */
  remaining(): number;
  close(): Promise<void>;
}

export async function startDemoServer(options: {
  readonly username: string;
  readonly password: string;
  readonly messages: readonly Buffer[];
  readonly certificate: SelfSignedCertificate;
}): Promise<DemoServer> {
  const { mailbox, server } = await startFakeMailbox(
    {
      username: options.username,
      password: options.password,
      greeting: '+OK pop3-poller demo server ready\r\n',
      stls: true,
      requireTls: true,
    },
    { certificate: options.certificate },
  );
  for (const [i, bytes] of options.messages.entries()) mailbox.add(bytes, `demo-${i + 1}`);
  return { port: server.port, remaining: () => mailbox.live.size, close: () => server.close() };
}
